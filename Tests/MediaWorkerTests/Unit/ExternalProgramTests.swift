import Foundation
@testable import MediaWorker
import TestSupport
import Testing

/// The external engine runner (automatic captions' Whisper program) against hostile programs: one
/// that hangs and ignores SIGTERM, one whose child outlives it holding its output, a job canceled
/// while the program runs. Verdicts are the outcome's code, not how long anything took.
@Suite("External programs: output, timeout, cancellation")
struct ExternalProgramTests {
    @Test("a program's exit status, standard output and error come back; its output files are removed")
    func output() async throws {
        let directory = try makeTestDirectory("external-output")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try await ExternalProgram.run("/bin/sh", ["-c", "printf '{\"ok\":1}'; echo oops >&2; exit 3"], timeoutSeconds: 600,
                                                workDirectory: directory.path)
        #expect(run.status == 3 && String(decoding: run.stdout, as: UTF8.self) == #"{"ok":1}"# && run.stderr == "oops")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test("no descriptor of the worker's reaches the program: only standard input, output and error")
    func descriptors() async throws {
        let directory = try makeTestDirectory("external-fds")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Opened without close-on-exec, as Foundation's pipes are, at a number of its own: it must still not be inherited.
        let opened = open(directory.path + "/held", O_WRONLY | O_CREAT, 0o600)
        let held = fcntl(opened, F_DUPFD, 200)
        close(opened)
        #expect(held >= 200)
        defer { close(held) }
        let run = try await ExternalProgram.run("/bin/sh", ["-c", "for f in /proc/$$/fd/*; do echo ${f##*/}; done"], timeoutSeconds: 600,
                                                workDirectory: directory.path)
        let open = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }.sorted()
        // The shell's own listing of the folder holds one descriptor while it reads it.
        #expect(Array(open.prefix(3)) == [0, 1, 2] && !open.contains(held) && open.count <= 4, "the program had \(open) open; the test held \(held)")
    }

    @Test("a program that hangs and ignores SIGTERM is killed at its timeout (MEDIA_TIMEOUT); a child still holding its output does not keep the run waiting")
    func hangs() async throws {
        let directory = try makeTestDirectory("external-hang")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The shell ignores SIGTERM (SIGKILL follows 5 s later); its `sleep` child would live on with the output files open.
        let pidFile = directory.path + "/grandchild.pid"
        let script = "trap '' TERM; sleep 601 & echo $! > '\(pidFile)'; wait"
        do {
            _ = try await ExternalProgram.run("/bin/sh", ["-c", script], timeoutSeconds: 1, workDirectory: directory.path)
            Issue.record("a hanging program returned")
        } catch {
            #expect(error.code == .timeout, "\(error)")
        }
        // Its group went with it: the grandchild dies (on a machine slow enough that the timeout came before
        // the shell got to start it, there is none to look for).
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let grandchild = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(await Self.ends(grandchild), "the grandchild \(grandchild) is still running")
        }
    }

    /// Whether `pid` ends (gone, or a zombie awaiting its reaper) once signaled: SIGKILL is delivered
    /// at once but a process may show as running for a moment. Bounded, and killed if it is not.
    static func ends(_ pid: Int32) async -> Bool {
        for _ in 0..<500 {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
            if state == nil || state == "Z" || state == "X" { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        return false
    }

    @Test("a program that exits leaving a child running: the run returns with its status, and the child is stopped with it")
    func leavesAChild() async throws {
        let directory = try makeTestDirectory("external-orphan")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pidFile = directory.path + "/child.pid"
        let run = try await ExternalProgram.run("/bin/sh", ["-c", "sleep 602 & echo $! > '\(pidFile)'; echo done"], timeoutSeconds: 600,
                                                workDirectory: directory.path)
        #expect(run.status == 0 && String(decoding: run.stdout, as: UTF8.self) == "done\n")
        let child = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await Self.ends(child), "the child \(child) is still running")
    }

    @Test("canceling the task while the program runs stops it: MEDIA_CANCELED, not a timeout")
    func canceled() async throws {
        let directory = try makeTestDirectory("external-cancel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.path + "/running"
        let task = Task { () throws(MediaError) -> ExternalProgram.Run in
            try await ExternalProgram.run("/bin/sh", ["-c", "touch '\(marker)'; exec sleep 600"], timeoutSeconds: 600,
                                          workDirectory: directory.path)
        }
        // Canceled once the program is known to run (it made its marker); bounded in case it never starts.
        for _ in 0..<3000 where !FileManager.default.fileExists(atPath: marker) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(FileManager.default.fileExists(atPath: marker), "the program never started")
        task.cancel()
        let outcome = await task.result
        switch outcome {
        case .success(let run): Issue.record("the program ran on to its end: \(run.status)")
        case .failure(let error): #expect((error as? MediaError)?.code == .canceled, "\(error)")
        }
    }
}
