import Foundation

/// A private moto_server (S3 and IAM) from the project venv, verifying SigV4 signatures:
/// it starts with INITIAL_NO_AUTH_ACTION_COUNT so that only the IAM calls creating the
/// test user and key go unauthenticated (scripts/test/moto_bootstrap.py proves a wrong
/// secret is refused before handing out the key).
public final class MotoServer: Sendable {
    public struct Credentials: Codable, Sendable {
        public let accessKeyID: String
        public let secretAccessKey: String
        public let region: String
        public let endpoint: String
        /// A role with S3 rights that the user may assume (credential-chain tests).
        public let roleARN: String

        enum CodingKeys: String, CodingKey {
            case accessKeyID = "access_key_id"
            case secretAccessKey = "secret_access_key"
            case roleARN = "role_arn"
            case region, endpoint
        }

        /// The standard AWS variables for a worker or a tool pointed at this server.
        public var environment: [String: String] {
            ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey,
             "AWS_REGION": region, "AWS_ENDPOINT_URL_S3": endpoint]
        }
    }

    public let port: Int
    public let credentials: Credentials
    private let process: ManagedServerProcess

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, credentials: Credentials, process: ManagedServerProcess) {
        self.port = port
        self.credentials = credentials
        self.process = process
    }

    /// Starts a server and creates `buckets` with the test key. moto's server once dropped the
    /// bootstrap's first connection on a loaded machine (port open, nothing answered): a dropped
    /// connection gets one fresh server (a new one, so the unauthenticated budget is whole again).
    public static func start(buckets: [String] = [], environment: [String: String] = [:]) async throws -> MotoServer {
        do {
            return try await startOnce(buckets: buckets, environment: environment)
        } catch TestEnvironmentError.serverFailed(_, let detail)
                    where detail.contains("RemoteDisconnected") || detail.contains("Connection aborted") || detail.contains("Could not connect") {
            return try await startOnce(buckets: buckets, environment: environment)
        }
    }

    private static func startOnce(buckets: [String], environment: [String: String]) async throws -> MotoServer {
        let motoServer = ProjectPaths.venvBin.appendingPathComponent("moto_server").path
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        guard FileManager.default.isExecutableFile(atPath: motoServer) else {
            throw TestEnvironmentError.missing(what: "moto_server (\(motoServer))", hint: "run `make deps` (creates .venv with moto[server])")
        }
        let port = try LoopbackPort.free()
        let directory = try makeTestDirectory("moto")
        var serverEnvironment = environment
        serverEnvironment["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        serverEnvironment["AWS_ACCESS_KEY_ID"] = nil
        serverEnvironment["AWS_SECRET_ACCESS_KEY"] = nil
        let process = try ManagedServerProcess(
            name: "moto_server", executable: motoServer, arguments: ["-H", "127.0.0.1", "-p", String(port)],
            environment: serverEnvironment, directory: directory)
        do {
            // Ready is an event (its process listens), failure another (it exits); the deadline only
            // bounds a server that hangs. moto imports for seconds idle, and past 30 s on a loaded
            // machine (seen in CI: the banner written, the port not yet listed when 30 s ran out).
            let deadline = ContinuousClock.now + .seconds(180)
            // Listening itself: a port taken by another test's server meanwhile would also accept.
            while !process.listens(on: port) {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    throw TestEnvironmentError.serverFailed(name: "moto_server on port \(port)", detail: process.logTail())
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let script = ProjectPaths.scripts.appendingPathComponent("test/moto_bootstrap.py").path
            let result = try await CommandRunner.run(python, [script, "http://127.0.0.1:\(port)"] + buckets, timeout: .seconds(60))
            guard result.succeeded, let line = result.stdout.split(separator: "\n").last else {
                throw TestEnvironmentError.serverFailed(name: "moto_server bootstrap", detail: result.stderr + result.stdout)
            }
            let credentials = try JSONDecoder().decode(Credentials.self, from: Data(line.utf8))
            return MotoServer(port: port, credentials: credentials, process: process)
        } catch {
            await process.stop()
            throw error
        }
    }

    /// Runs `body` with a fresh server and stops it afterwards, whether `body` succeeds or throws.
    public static func with<T>(buckets: [String] = [], _ body: (MotoServer) async throws -> T) async throws -> T {
        let server = try await start(buckets: buckets)
        return try await withCleanup(server, body) { await $0.stop() }
    }

    public var isRunning: Bool { process.isRunning }

    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(at: process.directory)
    }
}
