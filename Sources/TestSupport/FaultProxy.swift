import Foundation

/// `scripts/test/fault_proxy.py` in front of a server (moto): forwards every request unchanged
/// (signatures stay valid) unless a rule says to fail, stall or drop it. See the script for the
/// rule format.
public final class FaultProxy: Sendable {
    public let port: Int
    private let process: ManagedServerProcess

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: ManagedServerProcess) {
        self.port = port
        self.process = process
    }

    public static func start(upstreamPort: Int) async throws -> FaultProxy {
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestEnvironmentError.missing(what: "the project venv (\(python))", hint: "run `make deps`")
        }
        let port = try LoopbackPort.free()
        let process = try ManagedServerProcess(
            name: "fault_proxy", executable: python,
            arguments: [ProjectPaths.scripts.appendingPathComponent("test/fault_proxy.py").path, String(port), "127.0.0.1:\(upstreamPort)"],
            environment: [:], directory: try makeTestDirectory("fault-proxy"))
        // Bounds a hang only (as the other test servers' deadlines): a loaded machine may take long to start Python.
        let deadline = ContinuousClock.now + .seconds(90)
        while !LoopbackPort.accepts(port) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                await process.stop()
                throw TestEnvironmentError.serverFailed(name: "fault_proxy on port \(port)", detail: process.logTail())
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return FaultProxy(port: port, process: process)
    }

    /// Replaces the rules (a JSON list, see the script).
    public func setRules(_ json: String) throws {
        let response = try HTTPProbe.request("POST", port: port, path: "/__fault__/rules", body: json)
        guard response.status == 200 else { throw TestEnvironmentError.serverFailed(name: "fault_proxy", detail: "rules refused: \(response.status)") }
    }

    /// Every request seen: method, path, query, action, status.
    public func log() throws -> [[String: Any]] {
        let body = try HTTPProbe.get(port: port, path: "/__fault__/log").body
        return (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]) ?? []
    }

    public func reset() throws {
        _ = try HTTPProbe.request("POST", port: port, path: "/__fault__/reset")
    }

    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(at: process.directory)
    }
}
