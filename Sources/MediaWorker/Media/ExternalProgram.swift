import CProcessSpawn
import Foundation
import Synchronization

/// Runs a program of an engine the worker does not link (the Whisper engine of automatic
/// captions) on a thread of its own, in a process group of its own: standard output and error go
/// to files of the job's folder (read back when it exits), and a timeout or the task's
/// cancellation stops the whole group (SIGTERM, then SIGKILL after 5 s). When the program exits,
/// whatever it started and left running is killed with it.
///
/// Spawned with posix_spawn and waited for with waitid, not Foundation's `Process`: on Linux that
/// learns of the exit through a descriptor the child inherits, so a grandchild that outlives the
/// program (a worker pool of the engine's) kept `waitUntilExit` waiting for ever.
enum ExternalProgram {
    struct Run: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    /// The running program, as the timer and the cancellation handler see it.
    final class Handle: Sendable {
        private struct State {
            var group: pid_t = 0        // the program's pid, which is its process group's id
            var stopped = false         // asked to stop (timeout or cancellation), perhaps before it started
            var timedOut = false
            var signaled = false
            var exited = false          // it has exited (not yet reaped: its group id cannot be reused)
        }

        private let state = Mutex(State())

        var outcome: (stopped: Bool, timedOut: Bool) { state.withLock { ($0.stopped, $0.timedOut) } }

        /// Records the started program; stops it at once if a stop came first.
        func started(_ pid: pid_t) {
            let stopFirst = state.withLock { state in
                state.group = pid
                return state.stopped
            }
            if stopFirst { stop() }
        }

        func stop(timeout: Bool = false) {
            let group: pid_t? = state.withLock { state in
                // After the exit a late timer or cancel changes nothing: the run ended on its own.
                guard !state.exited else { return nil }
                state.stopped = true
                if timeout { state.timedOut = true }
                guard state.group > 0, !state.signaled else { return nil }
                state.signaled = true
                // Signaled under the lock: `exited` (and the reaping after it) cannot come between.
                kill(-state.group, SIGTERM)
                return state.group
            }
            guard let group else { return }
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                // Only while the leader is unreaped: the group's id is still ours.
                self.state.withLock { state in
                    if !state.exited { kill(-group, SIGKILL) }
                }
            }
        }

        /// The program has exited: what it started goes too, and no later stop signals its group.
        func exited() {
            state.withLock { state in
                state.exited = true
                if state.group > 0 { kill(-state.group, SIGKILL) }
            }
        }
    }

    static func run(_ program: String, _ arguments: [String], timeoutSeconds: Double, workDirectory: String) async throws(MediaError) -> Run {
        let handle = Handle()
        let tag = UUID().uuidString.prefix(8)
        let errorPath = workDirectory + "/engine-stderr-\(tag).txt", outputPath = workDirectory + "/engine-stdout-\(tag).json"
        defer {
            try? FileManager.default.removeItem(atPath: errorPath)
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        let outcome: Result<Run, MediaError>
        do {
            outcome = try await withTaskCancellationHandler {
                try await BlockingWork.run { () -> Result<Run, MediaError> in
                    let pid: pid_t
                    do throws(MediaError) {
                        pid = try spawn(program, arguments, stdout: outputPath, stderr: errorPath)
                    } catch {
                        return .failure(error)
                    }
                    handle.started(pid)
                    let timer = DispatchWorkItem { handle.stop(timeout: true) }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
                    // Waits for the exit without reaping, so the group id stays ours while the rest is killed.
                    var info = siginfo_t()
                    var waited: Int32
                    repeat { waited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) } while waited != 0 && errno == EINTR
                    if waited != 0 {
                        let reason = String(cString: strerror(errno))
                        handle.exited()
                        timer.cancel()
                        return .failure(MediaError(code: .internal, message: "cannot wait for \(program): \(reason)"))
                    }
                    handle.exited()
                    timer.cancel()
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    let data = FileManager.default.contents(atPath: outputPath) ?? Data()
                    let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
                    let (stopped, timedOut) = handle.outcome
                    if timedOut {
                        return .failure(MediaError(code: .timeout, message: "\((program as NSString).lastPathComponent) was stopped after \(Int(timeoutSeconds)) s"))
                    }
                    if stopped { return .failure(MediaError(code: .canceled, message: "canceled")) }
                    return .success(Run(status: mw_exit_code(status), stdout: data,
                                        stderr: stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
                }
            } onCancel: {
                handle.stop()
            }
        } catch {
            throw MediaError(code: .canceled, message: "not run: \(error)")
        }
        return try outcome.get()
    }

    /// posix_spawn in a new process group, with the signal state a shell would give (the worker's
    /// threads block signals; a child inheriting that mask would ignore SIGTERM), standard input
    /// from /dev/null, the output to the two files and no other descriptor of the worker's.
    private static func spawn(_ program: String, _ arguments: [String], stdout: String, stderr: String) throws(MediaError) -> pid_t {
        var attributes = posix_spawnattr_t()
        mw_spawnattr_init_clean(&attributes, 1)
        defer { posix_spawnattr_destroy(&attributes) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of the worker's reaches the program (a pipe of another child's, a socket):
        // a descriptor it kept open could hold someone else waiting for an end of file.
        mw_spawn_file_actions_close_from(&actions, 3)
        let argv = ([program] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { buffer in
            posix_spawn(&pid, program, &actions, &attributes, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
        }
        guard result == 0 else {
            throw MediaError(code: .speechRecognitionFailed, message: "cannot run \(program): \(String(cString: strerror(result)))")
        }
        return pid
    }
}
