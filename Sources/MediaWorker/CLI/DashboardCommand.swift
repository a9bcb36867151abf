import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import QueueClient
import RedisClient
import ServiceLifecycle
import Storage

/// `media-worker dashboard`: the web dashboard over the workers' Redis (same `MW_*` settings).
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Serve the web dashboard (queues, jobs, dead letters, workers, events, webhooks).")

    @Option(help: "Address to listen on. Off loopback, MW_DASHBOARD_TOKEN is required.")
    var addr = "127.0.0.1:8090"

    @Flag(help: "Show everything, change nothing: no action is shown and every POST is refused.")
    var readOnly = false

    @Option(help: "Serve HTTPS with this certificate chain (PEM; or MW_DASHBOARD_TLS_CERT). Needs --tls-key.")
    var tlsCert: String?

    @Option(help: "The private key of --tls-cert (PEM; or MW_DASHBOARD_TLS_KEY).")
    var tlsKey: String?

    func run() async throws {
        let configuration = try WorkerConfiguration.forCommand()
        let settings: DashboardSettings
        let host: String, port: Int
        do {
            settings = try DashboardSettings(environment: ProcessInfo.processInfo.environment)
            (host, port) = try WorkerConfiguration.parseAddress(addr)
        } catch {
            printError("error \(error)")
            throw ExitCode(2)
        }
        let token = settings.token
        if token == nil && !Self.isLoopback(host) {
            printError("error CONFIG_INVALID: MW_DASHBOARD_TOKEN: required when the dashboard listens off loopback (\(addr))")
            throw ExitCode(2)
        }
        let certificate = tlsCert ?? settings.tlsCertificate
        let key = tlsKey ?? settings.tlsKey
        var tls: TLSConfiguration?
        switch (certificate, key) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            do {
                tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            } catch {
                printError("error CONFIG_INVALID: MW_DASHBOARD_TLS_CERT/KEY: \(error)")
                throw ExitCode(2)
            }
        default:
            printError("error CONFIG_INVALID: MW_DASHBOARD_TLS_CERT and MW_DASHBOARD_TLS_KEY go together")
            throw ExitCode(2)
        }
        let servesTLS = tls != nil
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "media-worker-dashboard")
        let client = RedisClient(url: configuration.redisURL)
        let storage = try? StorageRouter(configuration: configuration)
        var auth = DashboardAuth(token: token, readOnly: readOnly)
        auth.sessionLifetime = settings.sessionLifetime
        auth.allowedHosts = settings.allowedHosts
        auth.tls = tls != nil
        auth.sessions = DashboardSessions(client: client, prefix: configuration.queuePrefix)
        let dashboard = Dashboard(client: client, configuration: configuration, auth: auth, storage: storage, logger: logger)
        let app = Application(
            router: dashboard.router(),
            server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "media-worker-dashboard"),
            onServerRunning: { channel in
                logger.info("dashboard listening", metadata: [
                    "addr": "\(host):\(channel.localAddress?.port ?? 0)", "read_only": "\(readOnly)", "token": "\(token != nil)",
                    "tls": "\(servesTLS)",
                ])
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await storage?.shutdown()
        await client.close()
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
