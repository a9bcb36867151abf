import Foundation
import JobContract
import Logging
import Metrics
import QueueClient
import RedisClient
import ServiceLifecycle
import Synchronization

/// Takes jobs from Redis queues and runs them: the worker half of the daemon.
///
/// Per queue an inbox reader turns producers' items into jobs (eagerly, so priorities hold
/// over a backlog). One dispatcher fetches jobs while slots are free and otherwise blocks on
/// the queues' wake markers. A heartbeat task extends leases, relays cancel requests,
/// refreshes the registry and recovers the claims of dead workers. On graceful shutdown it
/// stops taking work, lets running jobs finish for the grace period, then hands them back.
public final class JobWorker: Service, Sendable {
    let settings: JobWorkerSettings
    let redisURL: RedisURL
    let handlers: [String: any JobHandler]
    let decoder: JobDecoder
    let readiness: ReadinessState
    let logger: Logger
    let running = RunningJobs()
    let metrics = JobMetrics()
    let statusBoard: WorkerStatusBoard?
    private let draining = Mutex(false)
    let janitor: OutputJanitor?
    private let blockingClients = Mutex<[ObjectIdentifier: RedisClient]>([:])
    private let startedAt = Date().formatted(Date.ISO8601FormatStyle())

    public init(
        settings: JobWorkerSettings, redisURL: RedisURL, handlers: [String: any JobHandler], decoder: JobDecoder,
        readiness: ReadinessState, logger: Logger, statusBoard: WorkerStatusBoard? = nil
    ) {
        self.statusBoard = statusBoard
        self.settings = settings
        self.redisURL = redisURL
        self.handlers = handlers
        self.decoder = decoder
        self.readiness = readiness
        self.logger = logger
        janitor = settings.outputs.map { OutputJanitor(settings: $0, logger: logger) }
    }

    /// Draining after SIGTERM, or cancelled (the service group is going down): take no more work.
    var isDraining: Bool { draining.withLock { $0 } || Task.isCancelled }

    public func run() async throws {
        let readiness = self.readiness
        let client = RedisClient(url: redisURL, onHealth: { readiness.recordRedis(success: $0) })
        let queues = settings.queues.map { JobQueue(name: $0, options: settings.queueOptions, client: client, actor: settings.workerID) }
        // Leases on a connection of their own: a WAIT for replicas (MW_REDIS_WAIT_REPLICAS) or a
        // long script on the shared one never holds a heartbeat back.
        let leaseClient = RedisClient(url: redisURL)
        let leaseQueues = settings.queues.map { JobQueue(name: $0, options: settings.queueOptions, client: leaseClient, actor: settings.workerID) }
        let registry = WorkerRegistry(prefix: settings.queueOptions.prefix, client: leaseClient)

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    // Registered before the first claim, so no one mistakes our claims for a dead worker's.
                    await self.refreshRegistry(registry, queues: queues, running: [], startedAt: self.startedAt)
                    for queue in queues {
                        group.addTask { await self.readInbox(queue) }
                    }
                    group.addTask { await self.keepLeases(queues: leaseQueues, registry: registry) }
                    if let janitor = self.janitor {
                        group.addTask { await janitor.run(queues: queues) { self.isDraining } }
                    }
                    await self.dispatch(queues: queues, group: &group)
                    await self.drainRunningJobs()
                }
            } onGracefulShutdown: {
                self.beginDraining(client: client)
            }
        } onCancel: {
            self.beginDraining(client: client)
        }
        try? await registry.remove(worker: settings.workerID)
        await leaseClient.close()
        await client.close()
        logger.info("job worker stopped")
    }

    private func beginDraining(client: RedisClient) {
        let first = draining.withLock { wasDraining -> Bool in
            defer { wasDraining = true }
            return !wasDraining
        }
        guard first else { return }
        readiness.startDraining()
        janitor?.wake()
        logger.info("draining: no new jobs; running jobs get the grace period", metadata: ["grace_s": "\(settings.gracePeriod.seconds)"])
        let blocked = blockingClients.withLock { Array($0.values) }
        Task {
            await running.wakeWaiters()
            // Interrupt the inbox readers' and dispatcher's blocking calls.
            try? await client.interruptBlocking(of: blocked)
        }
    }

    private func makeBlockingClient() -> RedisClient {
        let client = RedisClient(url: redisURL, options: .init(connectTimeout: .seconds(2), commandTimeout: .seconds(5)))
        blockingClients.withLock { $0[ObjectIdentifier(client)] = client }
        return client
    }

    // MARK: inbox

    /// Turns inbox items into jobs until draining; claimed items survive a crash (see requeueClaimed).
    private func readInbox(_ queue: JobQueue) async {
        let blocking = makeBlockingClient()
        let worker = settings.workerID
        let items = Counter(label: "mw_inbox_items_total", dimensions: [("queue", queue.name)])
        var backoff = Duration.milliseconds(100)
        // Items left in our claimed list (by a failed round trip) are ingested first.
        var checkLeftovers = true
        try? await queue.registerClaimer(worker: worker)
        while !isDraining {
            do {
                if checkLeftovers, let leftover = try await queue.oldestClaimed(worker: worker) {
                    try await ingest([leftover], into: queue)
                    items.increment()
                    continue
                }
                checkLeftovers = false
                let batch = try await queue.claim(max: settings.ingestBatch, worker: worker)
                if batch.isEmpty {
                    if let item = try await queue.waitForItem(blockingClient: blocking, worker: worker, timeout: settings.inboxWait) {
                        try await ingest([item], into: queue)
                        items.increment()
                    }
                    continue
                }
                try await ingest(batch, into: queue)
                items.increment(by: Int64(batch.count))
                backoff = .milliseconds(100)
            } catch {
                checkLeftovers = true
                if isDraining { break }
                logger.warning("inbox read failed; retrying", metadata: ["queue": "\(queue.name)", "error": "\(error)"])
                guard (try? await Task.sleep(for: backoff)) != nil else { break }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        await blocking.close()
    }

    private func ingest(_ batch: [[UInt8]], into queue: JobQueue) async throws {
        let decisions = batch.map { (item: $0, decision: decoder.decide($0)) }
        let outcomes = try await queue.ingest(decisions, worker: settings.workerID)
        for ((_, decision), results) in zip(decisions, outcomes) {
            report(decision, results: results, queue: queue)
        }
    }

    private func report(_ decision: InboxDecision, results: [String], queue: JobQueue) {
        if results.last == "displaced" {
            // Another process shares this claimed list: two hosts with one MW_WORKER_ID.
            logger.warning("claimed inbox item was not at the head: another process uses this worker id", metadata: [
                "queue": "\(queue.name)", "worker_id": "\(settings.workerID)",
            ])
        }
        if results.contains("skipped") {
            logger.notice("a claimed inbox item was taken back meanwhile; left to whoever holds it", metadata: ["queue": "\(queue.name)"])
        }
        switch decision {
        case .rejected(let rejected):
            Counter(label: "mw_jobs_rejected_total", dimensions: [("queue", queue.name), ("code", rejected.code)]).increment()
            logger.warning("inbox item rejected", metadata: [
                "queue": "\(queue.name)", "job_id": "\(rejected.id)", "error_code": "\(rejected.code)", "error": "\(rejected.message)",
            ])
        case .jobs(let jobs):
            for (job, result) in zip(jobs, results) where result == "duplicate" {
                Counter(label: "mw_jobs_duplicate_total", dimensions: [("queue", queue.name)]).increment()
                logger.info("duplicate job id ignored", metadata: ["queue": "\(queue.name)", "job_id": "\(job.id)"])
            }
        case .ignored:
            break
        }
    }

    // MARK: dispatch

    private func dispatch(queues: [JobQueue], group: inout DiscardingTaskGroup) async {
        let markerClients = queues.map { _ in makeBlockingClient() }
        var backoff = Duration.milliseconds(100)
        while !isDraining {
            await running.waitForSlot(limit: settings.concurrency)
            if isDraining { break }
            // Storage down: leave the jobs queued for workers (or a moment) that can run them.
            if let breaker = settings.storageBreaker, breaker.isOpen {
                guard (try? await Task.sleep(for: .milliseconds(250))) != nil else { break }
                continue
            }
            var free = settings.concurrency - (await running.count)
            guard free > 0 else { continue }
            do {
                var started = 0
                var nextWake: Duration?
                for queue in queues where free > 0 {
                    let result = try await queue.fetch(max: free)
                    for delivery in result.deliveries {
                        let signal = StopSignal()
                        await running.add(delivery, signal: signal)
                        group.addTask { await self.runLane(delivery, queue: queue, signal: signal) }
                    }
                    started += result.deliveries.count
                    free -= result.deliveries.count
                    if let wake = result.nextWake { nextWake = min(nextWake ?? wake, wake) }
                }
                if started == 0 {
                    let wait = min(settings.idleWait, max(nextWake ?? settings.idleWait, .milliseconds(10)))
                    try await waitForMarker(queues: queues, clients: markerClients, timeout: wait)
                }
                backoff = .milliseconds(100)
            } catch {
                if isDraining { break }
                logger.warning("fetch failed; retrying", metadata: ["error": "\(error)"])
                guard (try? await Task.sleep(for: backoff)) != nil else { break }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        for client in markerClients { await client.close() }
    }

    /// Blocks until a queue's wake marker appears (new waiting work) or `timeout` passes.
    private func waitForMarker(queues: [JobQueue], clients: [RedisClient], timeout: Duration) async throws {
        let seconds = String(format: "%.3f", timeout.seconds)
        if queues.count == 1 {
            _ = try await clients[0].blockingCommand(["BLPOP", queues[0].markerKey, seconds], wait: timeout)
            return
        }
        // One blocking call per queue (their keys hash to different slots); the first to
        // return ends the others through CLIENT UNBLOCK.
        try await withThrowingTaskGroup(of: Void.self) { race in
            for (queue, client) in zip(queues, clients) {
                race.addTask { _ = try await client.blockingCommand(["BLPOP", queue.markerKey, seconds], wait: timeout) }
            }
            try await race.next()
            try? await queues[0].client.interruptBlocking(of: clients)
            try await race.waitForAll()
        }
    }

    // MARK: leases

    /// Every heartbeat interval: extend leases and relay cancel requests. Every registry
    /// interval: refresh this worker's registry entry and recover dead workers' claims.
    private func keepLeases(queues: [JobQueue], registry: WorkerRegistry) async {
        let clock = ContinuousClock()
        var nextRegistry = clock.now + settings.registryInterval
        while true {
            let entries = await running.all
            if isDraining && entries.isEmpty { break }
            let now = Date()
            for entry in entries where entry.delivery.timeoutSeconds > 0
                && now.timeIntervalSince(entry.started) > Double(entry.delivery.timeoutSeconds) {
                entry.signal.stop(.timeout)
            }
            for queue in queues {
                let mine = entries.filter { $0.delivery.queue == queue.name }
                guard !mine.isEmpty else { continue }
                do {
                    let statuses = try await queue.heartbeat(mine.map { (id: $0.delivery.id, token: $0.delivery.token) })
                    for (entry, status) in zip(mine, statuses) {
                        switch status {
                        case .held: break
                        case .cancelRequested: entry.signal.stop(.cancelRequested)
                        case .lost: entry.signal.stop(.leaseLost)
                        }
                    }
                } catch {
                    logger.warning("heartbeat failed; jobs keep running", metadata: ["queue": "\(queue.name)", "error": "\(error)"])
                }
            }
            if clock.now >= nextRegistry {
                nextRegistry = clock.now + settings.registryInterval
                await refreshRegistry(registry, queues: queues, running: entries, startedAt: self.startedAt)
            }
            do {
                try await Task.sleep(for: settings.heartbeatInterval)
            } catch {
                break  // cancelled: the running jobs are being cancelled with us
            }
        }
    }

    private func refreshRegistry(_ registry: WorkerRegistry, queues: [JobQueue], running entries: [RunningJobs.Entry], startedAt: String) async {
        do {
            try await registry.refresh(worker: settings.workerID, fields: [
                "host": ProcessInfo.processInfo.hostName, "pid": String(getpid()), "version": MediaWorkerVersion.current,
                "started_at": startedAt, "queues": settings.queues.joined(separator: ","),
                "concurrency": String(settings.concurrency), "in_flight": String(entries.count),
                "jobs": entries.map { $0.delivery.id }.joined(separator: ","), "draining": isDraining ? "1" : "0",
            ])
            Gauge(label: "mw_jobs_in_flight").record(entries.count)
            for queue in queues {
                try await queue.registerClaimer(worker: settings.workerID)
                for list in try await queue.claimedLists() {
                    guard let range = list.range(of: ":claimed:") else { continue }
                    let owner = String(list[range.upperBound...])
                    guard owner != settings.workerID, try await !registry.isAlive(worker: owner) else { continue }
                    let moved = try await queue.requeueClaimed(list: list)
                    logger.notice("recovered a dead worker's claimed inbox items", metadata: [
                        "queue": "\(queue.name)", "dead_worker_id": "\(owner)", "items": "\(moved)",
                    ])
                }
            }
        } catch {
            logger.warning("registry refresh failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: shutdown

    /// Waits for running jobs for the grace period, then tells them to stop (they hand their jobs back).
    private func drainRunningJobs() async {
        guard await running.count > 0 else { return }
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await self.running.waitUntilEmpty() }
            race.addTask {
                try? await Task.sleep(for: self.settings.gracePeriod)
                guard !Task.isCancelled else { return }
                let count = await self.running.count
                self.logger.notice("grace period over: handing running jobs back", metadata: ["jobs": "\(count)"])
                await self.running.stopAll(.shutdown)
            }
            await race.next()
            race.cancelAll()
        }
    }
}
