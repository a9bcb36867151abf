import Foundation
@testable import Storage
import Synchronization
import TestSupport
import Testing

/// Local storage does its blocking file work (copies with fsync, deletes, walks) on the blocking
/// I/O pool: Swift's cooperative threads (as many as the cores) stay free for lease renewal.
@Suite("Local storage off the cooperative threads")
struct LocalStorageIOTests {
    @Test("a task on the cooperative threads keeps running while four large local copies are under way")
    func copiesLeaveTheCooperativeThreadsFree() async throws {
        try await withTestDirectory("blocking-io") { root in
            let directory = URL(fileURLWithPath: root)
            let storage = try LocalStorage(roots: [directory.path])
            let source = directory.appendingPathComponent("source.bin").path
            // 256 MB of real bytes (a sparse file would read as nothing): written once, copied four times at once.
            let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            FileManager.default.createFile(atPath: source, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
            for _ in 0..<256 { try handle.write(contentsOf: chunk) }
            try handle.close()

            let copying = Atomic<Bool>(true)
            let ticksWhileCopying = Atomic<Int>(0)
            // What the heartbeat loop is: a task that wakes every few milliseconds on the cooperative threads.
            let ticker = Task {
                while copying.load(ordering: .acquiring) {
                    ticksWhileCopying.add(1, ordering: .relaxed)
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        _ = try await storage.download(.file(path: source), to: directory.appendingPathComponent("copy-\(index)").path, maxBytes: nil)
                    }
                }
                try await group.waitForAll()
            }
            copying.store(false, ordering: .releasing)
            await ticker.value
            // Blocking the cooperative threads, four copies let the ticker run a handful of times at
            // most (between copies); off them it runs all along (hundreds of times here).
            #expect(ticksWhileCopying.load(ordering: .relaxed) >= 10, "\(ticksWhileCopying.load(ordering: .relaxed)) ticks while copying")
            for index in 0..<4 {
                let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("copy-\(index)").path)
                #expect(attributes[.size] as? Int == 256 << 20)
            }
        }
    }
}
