import Hummingbird
import JobContract
import Logging
import QueueClient
import RedisClient
import ServiceLifecycle
import Storage

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

    /// One connection attempt before anything starts: a certificate Redis refuses, or one of
    /// Redis's we do not trust, stops the daemon with the reason. Redis merely not being up yet
    /// does not (the worker waits for it, not ready).
    static func refuseMisconfiguredRedis(_ url: RedisURL, logger: Logger) async throws {
        let client = RedisClient(url: url, options: .init(connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
        defer { Task { await client.close() } }
        do {
            try await client.command(["PING"])
        } catch where error.isConfigurationError {
            throw ConfigurationError(variable: "MW_REDIS_URL/MW_REDIS_TLS_*", reason: "\(error)")
        } catch where error.isConnectionError {
            logger.warning("redis not reachable at start; waiting for it", metadata: ["redis": "\(url)", "error": "\(error)"])
        } catch {
            // NOAUTH/WRONGPASS and the like: said once, then the worker keeps trying like for an outage.
            logger.error("redis refused the first command", metadata: ["redis": "\(url)", "error": "\(error)"])
        }
    }

    public func run() async throws {
        let host = configuration.httpHost
        let logger = self.logger
        let statusBoard = WorkerStatusBoard(workerID: configuration.workerID)
        let depth = QueueDepthSampler(configuration: configuration)
        let http = Application(
            router: HealthRoutes.router(readiness: readiness, metrics: metrics, status: statusBoard, beforeScrape: { await depth.sample() }),
            configuration: .init(address: .hostname(host, port: configuration.httpPort), serverName: "media-worker"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("http listening", metadata: [
                    "addr": "\(host):\(port)", "healthz": "http://\(host):\(port)/healthz",
                ])
            },
            logger: logger)
        try await Self.refuseMisconfiguredRedis(configuration.redisURL, logger: logger)
        let monitor = RedisHealthMonitor(url: configuration.redisURL, readiness: readiness, logger: logger)
        let readiness = self.readiness
        let breaker = StorageCircuitBreaker { state, detail in
            readiness.setStorage(reachable: state == .closed, detail: detail.map { "storage: \($0)" })
            if state == .open {
                logger.warning("storage unreachable: taking no jobs", metadata: ["error": "\(detail ?? "")"])
            } else {
                logger.info("storage reachable again")
            }
        }
        let storage: StorageRouter
        do {
            storage = try StorageRouter(configuration: configuration, breaker: breaker)
        } catch {
            throw ConfigurationError(variable: "MW_STORAGE_ROOT/AWS_*", reason: error.description)
        }
        try storage.checkKeyStore(configuration)
        var settings = JobWorkerSettings(workerID: configuration.workerID, queues: configuration.queues, concurrency: configuration.concurrency)
        settings.queueOptions = configuration.queueOptions
        settings.retryPolicy = RetryPolicy(base: configuration.retryBase, cap: configuration.retryCap)
        settings.gracePeriod = configuration.gracePeriod
        settings.storageBreaker = breaker
        // Several heartbeats fit in a lease, so one slow round trip never costs a job its lease.
        settings.heartbeatInterval = min(.milliseconds(500), configuration.lease / 4)
        let workspace: JobWorkspace
        do {
            workspace = try JobWorkspace(root: configuration.tempRoot, workerID: configuration.workerID)
        } catch {
            throw ConfigurationError(variable: "MW_TEMP_DIR", reason: error.description)
        }
        var pipeline = PipelineContext(configuration: configuration, storage: storage, workspace: workspace)
        pipeline.inputCache = InputCache(directory: workspace.directory + "/.inputs")
        var outputs = OutputSettings(storage: storage, scratchDirectory: workspace.directory)
        outputs.grace = configuration.outputGrace
        outputs.headers = configuration.objectHeaders
        settings.outputs = outputs
        let tracing = try TracingBackend.make(configuration.tracing, workerID: configuration.workerID, logger: logger)
        if let tracing { settings.tracer = tracing.tracer }
        let worker = JobWorker(
            settings: settings, redisURL: configuration.redisURL, handlers: JobRegistry(pipeline: pipeline).handlers,
            decoder: JobDecoder(defaultOutputURL: configuration.defaultOutputURL), readiness: readiness, logger: logger,
            statusBoard: statusBoard)

        // Graceful shutdown runs in reverse order: the worker drains first (reporting not
        // ready), the HTTP server stays up to say so and stops last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // The span exporter stops last: the spans of jobs that end while draining still go out.
        if let tracing { services.append(.init(service: tracing.service)) }
        services += [
            .init(service: http), .init(service: monitor),
            .init(service: DiskSpaceMonitor(workspace: workspace, readiness: readiness, minimumFree: configuration.minFreeBytes, logger: logger)),
        ]
        if let s3 = storage.s3, let bucket = configuration.s3Buckets.first {
            services.append(.init(service: StorageHealthMonitor(s3: s3, bucket: bucket, breaker: breaker, logger: logger)))
        }
        if let webhooks = configuration.webhooks {
            services.append(.init(service: WebhookDeliverer(
                settings: webhooks, redisURL: configuration.redisURL, queueNames: configuration.queues,
                queueOptions: configuration.queueOptions, workerID: configuration.workerID, logger: logger)))
        }
        services.append(.init(service: worker))
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        logger.info("worker starting", metadata: [
            "worker_id": "\(configuration.workerID)", "version": "\(MediaWorkerVersion.current)",
            "redis": "\(configuration.redisURL)", "queues": "\(configuration.queues.joined(separator: ","))",
            "storage_root": "\(configuration.storageRoot)",
            "traces": "\(configuration.tracing.enabled ? configuration.tracing.endpoint + " (producer span: " + configuration.tracing.producerSpan.rawValue + ")" : "off")",
        ])
        do {
            try await group.run()
        } catch {
            await storage.shutdown()
            await depth.close()
            throw error
        }
        await storage.shutdown()
        await depth.close()
        await pipeline.inputCache?.clear()
        logger.info("worker stopped")
    }
}
