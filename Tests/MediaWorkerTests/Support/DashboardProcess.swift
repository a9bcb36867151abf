import Foundation
import TestSupport
import Testing

/// A `media-worker dashboard` process started by a test.
struct DashboardProcess {
    let process: ChildProcess
    let port: Int
    let log: String

    static func start(redisURL: String, host: String = "127.0.0.1", arguments: [String] = [], directory: URL,
                      environment: [String: String] = [:]) throws -> DashboardProcess {
        let port = try LoopbackPort.free()
        let log = directory.appendingPathComponent("dashboard-\(port).log").path
        let process = try ChildProcess.spawn(
            try ProjectPaths.executable("media-worker"), ["dashboard", "--addr", "\(host):\(port)"] + arguments,
            environment: ["MW_REDIS_URL": redisURL, "MW_STORAGE_ROOT": directory.appendingPathComponent("storage").path].merging(environment) { $1 },
            stdout: log, stderr: log)
        return DashboardProcess(process: process, port: port, log: log)
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func waitUntilServing() async -> Bool {
        await eventually(.seconds(20)) { [200, 302].contains(try HTTPProbe.get(port: port, path: "/login").status) }
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}
