import Foundation
@testable import MediaWorker
@testable import Storage
import Synchronization
import TestSupport
import Testing

/// Per-worker temp folders: a sibling starting up never takes a live folder for an abandoned one.
@Suite("Job workspace")
struct JobWorkspaceTests {
    @Test("a worker's folder appears already locked: sweeps running all the while never remove it")
    func sweepNeverRemovesLiveFolder() async throws {
        let directory = try makeTestDirectory("workspace")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path
        let done = Atomic(false)
        let stopped = Atomic(false)
        // A sibling worker starting over and over: each start sweeps the root.
        let sweeper = Thread {
            while !done.load(ordering: .relaxed) { JobWorkspace.removeAbandoned(in: root) }
            stopped.store(true, ordering: .releasing)
        }
        sweeper.start()
        defer { done.store(true, ordering: .relaxed) }
        // Folders made and locked in the old order were caught between the two steps within a few hundred starts.
        var lost: [String] = []
        for index in 0..<400 {
            do {
                let workspace = try JobWorkspace(root: root, workerID: "w\(index)")
                if !FileManager.default.fileExists(atPath: workspace.directory + "/.lock") { lost.append(workspace.directory) }
            } catch {
                lost.append("w\(index): \(error)")
            }
        }
        done.store(true, ordering: .relaxed)
        // The sibling's last sweep ends before the next part: it would race the sweep asserted below
        // (a sweep that takes a folder's lock to test it makes the other sweep see it held, live).
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
        #expect(lost.isEmpty, "\(lost.count) live folders swept: \(lost.prefix(3))")
        // Folders without a lock file, or with a free one, are abandoned; no staging folder is left.
        try FileManager.default.createDirectory(atPath: root + "/mw-gone/job-x", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/mw-gone/.lock", contents: nil)
        try FileManager.default.createDirectory(atPath: root + "/mw-nolock/job-y", withIntermediateDirectories: true)
        let held = try JobWorkspace(root: root, workerID: "held")
        #expect(!FileManager.default.fileExists(atPath: root + "/mw-gone") && !FileManager.default.fileExists(atPath: root + "/mw-nolock"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix(".mw-staging") }.isEmpty)
        // The same id while its folder is held: refused.
        #expect(throws: StorageError.self) { try JobWorkspace(root: root, workerID: "held") }
        _ = held
    }
}
