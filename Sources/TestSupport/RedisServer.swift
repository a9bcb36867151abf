import Foundation
import Synchronization

/// A private redis-server on a free loopback port with its own temp dir.
/// No persistence unless `appendOnly` is asked for; stopped by `stop()` or with the test process.
public final class RedisServer: Sendable {
    public struct Options: Sendable {
        public var appendOnly = false
        /// `everysec` (Redis's default: up to a second of acknowledged writes lost on a crash) or `always`.
        public var appendFsync = "everysec"
        public var password: String? = nil
        /// Also listen on a unix socket inside the server's directory.
        public var unixSocket = false
        /// TLS only (no plain port), with these certificates.
        public var tls: TestCertificates? = nil
        /// With `tls`: clients must present a certificate signed by the test CA.
        public var requireClientCertificate = false
        /// More redis-server arguments (cluster options, replication).
        public var extraArguments: [String] = []
        /// A cluster node: its bus on a free port of its own (by default the bus is the port
        /// + 10000, which is past 65535 for a fifth of the kernel's ephemeral ports).
        public var clusterNode = false
        public init(appendOnly: Bool = false, appendFsync: String = "everysec", password: String? = nil, unixSocket: Bool = false,
                    tls: TestCertificates? = nil, requireClientCertificate: Bool = false, extraArguments: [String] = [], clusterNode: Bool = false) {
            self.clusterNode = clusterNode
            self.appendOnly = appendOnly
            self.appendFsync = appendFsync
            self.password = password
            self.unixSocket = unixSocket
            self.tls = tls
            self.requireClientCertificate = requireClientCertificate
            self.extraArguments = extraArguments
        }
    }

    public let port: Int
    public let directory: URL
    public let options: Options
    private let process: Mutex<ManagedServerProcess?>

    public var url: String {
        let auth = options.password.map { ":\($0)@" } ?? ""
        return "redis\(options.tls == nil ? "" : "s")://\(auth)127.0.0.1:\(port)/0"
    }
    public var unixSocketPath: String { directory.appendingPathComponent("redis.sock").path }

    private init(port: Int, directory: URL, options: Options) {
        self.port = port
        self.directory = directory
        self.options = options
        self.process = Mutex(nil)
    }

    /// Starts a server; retries on another port if the chosen one was taken meanwhile.
    public static func start(_ options: Options = Options()) async throws -> RedisServer {
        let executable = try ProjectPaths.tool("redis-server", package: "redis-server")
        _ = try ProjectPaths.tool("redis-cli", package: "redis-tools")
        var lastError: Error?
        for _ in 0..<5 {
            let server = RedisServer(port: try LoopbackPort.free(), directory: try makeTestDirectory("redis"), options: options)
            do {
                try await server.launch(executable: executable)
                return server
            } catch {
                lastError = error
                await server.remove()
            }
        }
        throw lastError ?? TestEnvironmentError.serverFailed(name: "redis-server", detail: "unknown")
    }

    /// Runs `body` with a fresh server, then stops it and removes its directory, whether `body` succeeds or throws.
    public static func with<T>(_ options: Options = Options(), _ body: (RedisServer) async throws -> T) async throws -> T {
        let server = try await start(options)
        return try await withCleanup(server, body) { await $0.remove() }
    }

    private func launch(executable: String) async throws {
        var arguments = ["--bind", "127.0.0.1", "--dir", directory.path]
        if let tls = options.tls {
            arguments += ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.serverCertificate, "--tls-key-file", tls.serverKey,
                          "--tls-ca-cert-file", tls.caCertificate, "--tls-auth-clients", options.requireClientCertificate ? "yes" : "no"]
        } else {
            arguments += ["--port", String(port)]
        }
        arguments += [
            "--save", "", "--appendonly", options.appendOnly ? "yes" : "no", "--appendfsync", options.appendFsync,
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
        ]
        if let password = options.password { arguments += ["--requirepass", password] }
        arguments += options.extraArguments
        if options.clusterNode { arguments += ["--cluster-enabled", "yes", "--cluster-port", String(try LoopbackPort.free())] }
        if options.unixSocket { arguments += ["--unixsocket", unixSocketPath, "--unixsocketperm", "700"] }
        let server = try ManagedServerProcess(name: "redis-server", executable: executable, arguments: arguments, directory: directory)
        process.withLock { $0 = server }
        // Ready and exited are events; the deadline only bounds a hang (generous: each check
        // starts a redis-cli, slow on a loaded machine).
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard server.isRunning else { break }
            if await answers(as: server) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestEnvironmentError.serverFailed(name: "redis-server on port \(port)", detail: server.logTail())
    }

    /// Whether the server answering on the port is the one just started. A PING is not enough: when
    /// a parallel test's server took the port first, ours fails to bind but, until it has exited,
    /// the other answers, and the test would then drive (and demote, or flush) another test's server.
    private func answers(as server: ManagedServerProcess) async -> Bool {
        guard let info = try? await cli(["INFO", "server"]),
              let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
              let pid = pid_t(line.dropFirst("process_id:".count).trimmingCharacters(in: .whitespaces)) else { return false }
        return server.owns(pid)
    }

    /// Whether the server answers PING (through redis-cli, independent of our client).
    public func ping() async -> Bool {
        (try? await cli(["PING"]))?.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG"
    }

    /// Runs a command through redis-cli and returns its raw output.
    @discardableResult
    public func cli(_ arguments: [String]) async throws -> String {
        var base = ["-h", "127.0.0.1", "-p", String(port)]
        if let tls = options.tls {
            base += ["--tls", "--cacert", tls.caCertificate, "--cert", tls.clientCertificate, "--key", tls.clientKey]
        }
        if let password = options.password { base += ["--no-auth-warning", "-a", password] }
        let result = try await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"), base + arguments, timeout: .seconds(10))
        return result.stdout
    }

    public var serverPID: pid_t? { process.withLock { $0?.serverPID } }

    /// Starts the server again after `stop()`, same port and directory (and so the same AOF).
    public func restart() async throws {
        await stop()
        try await launch(executable: try ProjectPaths.tool("redis-server", package: "redis-server"))
    }

    /// SIGKILL: the server dies at once, keeping only what its AOF had fsynced.
    public func crash() async {
        if let pid = serverPID { kill(pid, SIGKILL) }
        await stop()
    }

    public func stop() async {
        let current = process.withLock { p -> ManagedServerProcess? in let c = p; p = nil; return c }
        await current?.stop()
    }

    /// Stops the server and removes its directory.
    public func remove() async {
        await stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
