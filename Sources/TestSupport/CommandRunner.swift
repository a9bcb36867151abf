import Foundation

/// Runs a program to completion and collects its output (through files, so a chatty
/// program never blocks on a full pipe).
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var succeeded: Bool { status == 0 }
}

public enum CommandRunner {
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        directory: String? = nil, timeout: Duration = .seconds(120)
    ) async throws -> CommandResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mw-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        let process = try ChildProcess.spawn(
            executable, arguments, environment: environment, directory: directory, stdout: outURL.path, stderr: errURL.path)
        guard let status = await process.wait(timeout: timeout) else {
            process.signal(SIGKILL)
            await process.wait(timeout: .seconds(5))
            throw TestEnvironmentError.serverFailed(name: executable, detail: "timed out after \(timeout)")
        }
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
