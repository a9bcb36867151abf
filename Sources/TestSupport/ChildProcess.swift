import CProcessSpawn
import Foundation
import Synchronization

/// A child process spawned with a clean signal state.
///
/// Threads of a test runner block most signals, and Foundation's `Process` passes that
/// mask on: a server started that way ignores SIGTERM. posix_spawn with an empty mask
/// and default handlers gives the child the signal state a shell would.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let exit = Mutex<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// `stdout`/`stderr`: files to append to (nil: /dev/null).
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        directory: String? = nil, stdout: String? = nil, stderr: String? = nil
    ) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        mw_spawnattr_init_clean(&attributes, 0)
        defer { posix_spawnattr_destroy(&attributes) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr ?? stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)

        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        // glibc's addchdir_np is not visible to Swift; coreutils' env changes directory instead.
        let command = directory.map { ["/usr/bin/env", "--chdir=\($0)", executable] } ?? [executable]
        let argv = (command + arguments).map { strdup($0) }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") }
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envBuffer in
                posix_spawn(&pid, command[0], &actions, &attributes,
                            UnsafeMutablePointer(mutating: argvBuffer.baseAddress!),
                            UnsafeMutablePointer(mutating: envBuffer.baseAddress!))
            }
        }
        guard result == 0 else {
            throw TestEnvironmentError.serverFailed(name: executable, detail: String(cString: strerror(result)))
        }
        return ChildProcess(pid: pid)
    }

    /// The exit code (or 128 + signal) once the process has ended; nil while it runs.
    public var exitStatus: Int32? {
        exit.withLock { stored in
            if let stored { return stored }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            stored = mw_exit_code(status)
            return stored
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the end of the process, up to `timeout`; returns its exit status, or nil on timeout.
    @discardableResult
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return exitStatus
    }
}
