import Hummingbird
import Logging
import QueueClient
import ServiceLifecycle

/// Assembles the daemon's services and runs them until SIGTERM or SIGINT.
public struct WorkerDaemon {
    public let configuration: WorkerConfiguration
    public let logger: Logger
    public let metrics: WorkerMetrics
    public let readiness = ReadinessState()

    public init(configuration: WorkerConfiguration, logger: Logger, metrics: WorkerMetrics) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
    }

    public func run() async throws {
        let host = configuration.httpHost
        let logger = self.logger
        let http = Application(
            router: HealthRoutes.router(readiness: readiness, metrics: metrics),
            configuration: .init(address: .hostname(host, port: configuration.httpPort), serverName: "media-worker"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("http listening", metadata: [
                    "addr": "\(host):\(port)", "healthz": "http://\(host):\(port)/healthz",
                ])
            },
            logger: logger)
        let monitor = RedisHealthMonitor(url: configuration.redisURL, readiness: readiness, logger: logger)
        var settings = JobWorkerSettings(workerID: configuration.workerID, queues: configuration.queues, concurrency: configuration.concurrency)
        settings.queueOptions = configuration.queueOptions
        settings.retryPolicy = RetryPolicy(base: configuration.retryBase, cap: configuration.retryCap)
        settings.gracePeriod = configuration.gracePeriod
        // Several heartbeats fit in a lease, so one slow round trip never costs a job its lease.
        settings.heartbeatInterval = min(.milliseconds(500), configuration.lease / 4)
        let worker = JobWorker(
            settings: settings, redisURL: configuration.redisURL, handlers: Self.handlers(),
            decoder: JobDecoder(defaultOutputURL: configuration.defaultOutputURL), readiness: readiness, logger: logger)

        // Graceful shutdown runs in reverse order: the worker drains first (reporting not
        // ready), the HTTP server stays up to say so and stops last.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: http), .init(service: monitor), .init(service: worker)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        logger.info("worker starting", metadata: [
            "worker_id": "\(configuration.workerID)", "version": "\(MediaWorkerVersion.current)",
            "redis": "\(configuration.redisURL)", "queues": "\(configuration.queues.joined(separator: ","))",
            "storage_root": "\(configuration.storageRoot)",
        ])
        try await group.run()
        logger.info("worker stopped")
    }

    /// The job types this build runs.
    static func handlers() -> [String: any JobHandler] {
        [JobType.noop.rawValue: NoopJobHandler()]
    }
}
