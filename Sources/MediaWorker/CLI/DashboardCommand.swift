import ArgumentParser
import Foundation
import Hummingbird
import Logging
import QueueClient
import ServiceLifecycle

/// `media-worker dashboard`: the web dashboard over the workers' Redis (same `MW_*` settings).
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Serve the web dashboard (queues, jobs, dead letters, workers, events, webhooks).")

    @Option(help: "Address to listen on. Off loopback, MW_DASHBOARD_TOKEN is required.")
    var addr = "127.0.0.1:8090"

    @Flag(help: "Show everything, change nothing: no action is shown and every POST is refused.")
    var readOnly = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: WorkerConfiguration
        let host: String, port: Int
        do {
            configuration = try WorkerConfiguration(environment: environment)
            (host, port) = try WorkerConfiguration.parseAddress(addr)
        } catch {
            printError("error \(error)")
            throw ExitCode(2)
        }
        let token = environment["MW_DASHBOARD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if token == nil && !Self.isLoopback(host) {
            printError("error CONFIG_INVALID: MW_DASHBOARD_TOKEN: required when the dashboard listens off loopback (\(addr))")
            throw ExitCode(2)
        }
        if let token, token.count < 16 {
            printError("error CONFIG_INVALID: MW_DASHBOARD_TOKEN: use at least 16 characters")
            throw ExitCode(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "media-worker-dashboard")
        let client = RedisClient(url: configuration.redisURL)
        let storage = try? StorageRouter(configuration: configuration)
        let dashboard = Dashboard(client: client, configuration: configuration, auth: DashboardAuth(token: token, readOnly: readOnly),
                                  storage: storage, logger: logger)
        let app = Application(
            router: dashboard.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "media-worker-dashboard"),
            onServerRunning: { channel in
                logger.info("dashboard listening", metadata: [
                    "addr": "\(host):\(channel.localAddress?.port ?? 0)", "read_only": "\(readOnly)", "token": "\(token != nil)",
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
