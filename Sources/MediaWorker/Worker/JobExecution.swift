import Foundation
import JobContract
import Logging
import Metrics
import QueueClient
import RedisClient
import Storage

/// How one delivery ended, before it is reported to the queue.
enum JobOutcome: Sendable {
    case succeeded(JobResult)
    case failed(JobFailure)
    case stopped(StopReason)
}

extension JobWorker {
    /// One slot's work: runs a delivery, and while its report brings back a next job
    /// (complete-and-fetch in one round trip), runs that one too.
    func runLane(_ first: Delivery, queue: JobQueue, signal: StopSignal) async {
        var current: (Delivery, StopSignal)? = (first, signal)
        while let (delivery, signal) = current {
            current = nil
            guard let next = await execute(delivery, queue: queue, signal: signal) else {
                await running.remove(delivery)
                return
            }
            if isDraining {
                // Taken while shutdown began: hand it straight back.
                await running.remove(delivery)
                _ = try? await withRedisRetry(until: .now + settings.queueOptions.lease) { () throws(RedisError) in
                    try await queue.release(id: next.id, token: next.token)
                }
                return
            }
            let nextSignal = StopSignal()
            await running.replace(delivery, with: next, signal: nextSignal)
            current = (next, nextSignal)
        }
    }

    /// Runs one delivery to its end and reports that end to the queue (retrying through a
    /// Redis outage for as long as the lease could still be ours). Returns the next job
    /// the report fetched, if any.
    func execute(_ delivery: Delivery, queue: JobQueue, signal: StopSignal) async -> Delivery? {
        var logger = self.logger
        logger[metadataKey: "job_id"] = "\(delivery.id)"
        logger[metadataKey: "job_type"] = "\(delivery.type)"
        logger[metadataKey: "attempt"] = "\(delivery.attempt)"
        let envelope = try? JSONValue.parse(delivery.payload)
        // The attempt's span covers the work and the report of its end (publication included).
        let trace = envelope.map { settings.tracer.begin(delivery, envelope: $0, logger: logger) } ?? .none
        let tagged = trace.tagging(logger)
        return await trace.within {
            await execute(delivery, envelope: envelope, trace: trace, queue: queue, signal: signal, logger: tagged)
        }
    }

    private func execute(_ delivery: Delivery, envelope: JSONValue?, trace: JobTrace, queue: JobQueue, signal: StopSignal,
                         logger: Logger) async -> Delivery? {
        let started = ContinuousClock.now
        let traceID = trace.traceID
        let outcome = await outcome(of: delivery, envelope: envelope, trace: trace, queue: queue, signal: signal, logger: logger)
        if handlers[delivery.type]?.handlesMedia ?? false { HeapTrim.afterJob() }
        let elapsed = ContinuousClock.now - started
        // The next job comes in the same round trip only from the first queue: for a later
        // queue the dispatcher must look at the earlier ones first (queue precedence).
        let fetchNext = isDraining || queue.name != settings.queues.first ? 0 : 1
        var next: Delivery?

        let deadline = ContinuousClock.now + settings.queueOptions.lease * 2
        let label: String
        var reported: JobFailure?
        defer { trace.end(outcome: label, failure: reported) }
        do {
            switch outcome {
            case .succeeded(let result) where result.parts != nil:
                // The job goes on as parts run by the pool; it comes back for its stitch.
                let parts = result.parts ?? []
                let outcome = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                    try await queue.fanOut(id: delivery.id, token: delivery.token, eventJSON: result.data.jsonText, parts: parts, traceID: traceID)
                }
                switch outcome {
                case .accepted:
                    label = "split"
                    logger.info("job split into parts", metadata: ["parts": "\(parts.count)"])
                case .stale:
                    label = "stale"
                    logger.info("job split refused: its lease was given to another delivery")
                case .partExists(let part):
                    let failure = JobFailure(code: "TRANSCODE_SPLIT_CONFLICT", message: "the id of part \(part) is taken by another job", retryable: false)
                    reported = failure
                    (label, next) = try await reportFailure(failure, delivery: delivery, queue: queue, deadline: deadline, fetchNext: fetchNext,
                                                            traceID: traceID, logger: logger)
                }
            case .succeeded(let result):
                // A span only for a publication of outputs (not for every no-op job).
                let step = result.version == nil
                    ? await prepareCompletion(result, delivery: delivery, queue: queue, deadline: deadline, logger: logger)
                    : await trace.measure("publish", attributes: [TraceAttributes.version: .string(result.version?.id ?? "")]) { _ in
                        await prepareCompletion(result, delivery: delivery, queue: queue, deadline: deadline, logger: logger)
                    }
                switch step {
                case .ready(let publication):
                    // A retry (after a lost reply) fetches nothing: a job fetched by the lost reply would be orphaned.
                    var fetch = fetchNext
                    let (accepted, fetched) = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                        defer { fetch = 0 }
                        return try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: result.data.jsonText,
                                                        publication: publication, thenFetch: fetch, traceID: traceID)
                    }
                    next = fetched?.deliveries.first
                    label = accepted ? "completed" : "stale"
                    if accepted {
                        logger.info("job completed", metadata: ["duration_s": "\(elapsed.seconds)", "version": "\(result.version?.id ?? "")"])
                    } else {
                        logger.warning("job result refused: its lease was given to another delivery", metadata: ["duration_s": "\(elapsed.seconds)"])
                        await restoreStableNames(of: result, delivery: delivery, queue: queue, logger: logger)
                    }
                case .cancelRequested:
                    _ = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                        try await queue.acknowledgeCancel(id: delivery.id, token: delivery.token, traceID: traceID)
                    }
                    label = "canceled"
                    logger.info("job canceled before its outputs were published")
                case .stale:
                    label = "stale"
                    logger.warning("job result not published: its lease was given to another delivery")
                case .failed(let failure):
                    reported = failure
                    (label, next) = try await reportFailure(failure, delivery: delivery, queue: queue, deadline: deadline, fetchNext: fetchNext,
                                                            traceID: traceID, logger: logger)
                }
            case .failed(let failure):
                reported = failure
                (label, next) = try await reportFailure(failure, delivery: delivery, queue: queue, deadline: deadline, fetchNext: fetchNext,
                                                        traceID: traceID, logger: logger)
            case .stopped(.timeout):
                let failure = JobFailure(code: "JOB_TIMEOUT", message: "the job ran longer than its timeout of \(delivery.timeoutSeconds) s", retryable: true)
                reported = failure
                (label, next) = try await reportFailure(failure, delivery: delivery, queue: queue, deadline: deadline, fetchNext: fetchNext,
                                                        traceID: traceID, logger: logger)
            case .stopped(.cancelRequested):
                _ = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                    try await queue.acknowledgeCancel(id: delivery.id, token: delivery.token, traceID: traceID)
                }
                label = "canceled"
                logger.info("job canceled")
            case .stopped(.leaseLost):
                label = "lease_lost"
                logger.warning("job stopped: its lease was given to another delivery")
            case .stopped(.shutdown):
                _ = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                    try await queue.release(id: delivery.id, token: delivery.token)
                }
                label = "released"
                logger.notice("job handed back for another worker (shutdown)")
            }
        } catch {
            label = "unreported"
            logger.error("could not report the job's end to Redis; its lease will expire and it will run again", metadata: ["error": "\(error)"])
        }
        metrics.count("mw_jobs_total", type: delivery.type, outcome: label)
        metrics.recordDuration(elapsed, type: delivery.type)
        // An attempt that ended unpublished left trash: delete it now rather than at the next round.
        if label != "completed" && label != "split" { janitor?.wake() }
        return next
    }

    enum CompletionStep {
        case ready(Publication)
        case cancelRequested
        case stale
        case failed(JobFailure)
    }

    /// Publication, before the completion that makes it count: the right to write the slot's
    /// stable names (one publisher at a time; none for a job asked to cancel), then the stable
    /// names themselves, written after every versioned object.
    func prepareCompletion(_ result: JobResult, delivery: Delivery, queue: JobQueue, deadline: ContinuousClock.Instant,
                           logger: Logger) async -> CompletionStep {
        let assets = result.assets.map { Publication.AssetEvent(type: $0.type, dataJSON: $0.data.jsonText) }
        let grace = settings.outputs?.grace ?? .seconds(3600)
        guard let version = result.version else { return .ready(Publication(version: nil, grace: grace, assets: assets)) }
        // A part of a split job publishes nothing alone: its folder joins its job's version.
        if version.slot.isEmpty { return .ready(Publication(version: version.id, grace: grace, assets: assets)) }
        guard let outputs = settings.outputs else {
            return .failed(JobFailure(code: "JOB_INTERNAL", message: "this worker has no storage to publish to", retryable: true))
        }
        do {
            while true {
                let permission = try await withRedisRetry(until: deadline) { () throws(RedisError) in
                    try await queue.beginPublishing(id: delivery.id, token: delivery.token)
                }
                switch permission {
                case .ok: break
                case .busy:
                    guard ContinuousClock.now < deadline else {
                        return .failed(JobFailure(code: "JOB_PUBLISH_BUSY", message: "another delivery kept publishing the same outputs", retryable: true))
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                case .cancel: return .cancelRequested
                case .stale: return .stale
                case .noVersion:
                    return .failed(JobFailure(code: "JOB_INTERNAL", message: "the output version was not recorded", retryable: true))
                }
                break
            }
        } catch {
            return .failed(JobFailure(code: "JOB_REDIS_UNAVAILABLE", message: "cannot publish: \(error)", retryable: true))
        }
        do {
            try await StableNames(storage: outputs.storage, scratchDirectory: outputs.scratchDirectory, headers: outputs.headers).write(result.stableObjects)
        } catch {
            logger.warning("writing the stable names failed", metadata: ["error": "\(error)"])
            return .failed(JobFailure(error))
        }
        return .ready(Publication(version: version.id, grace: grace, assets: assets))
    }

    /// A publication refused after its stable names were written: they point back at what is
    /// published (the janitor checks again before deleting the version).
    func restoreStableNames(of result: JobResult, delivery: Delivery, queue: JobQueue, logger: Logger) async {
        guard let version = result.version, let master = version.stableMaster, let outputs = settings.outputs else { return }
        let names = StableNames(storage: outputs.storage, scratchDirectory: outputs.scratchDirectory, headers: outputs.headers)
        do {
            // Under the slot's right (this delivery's own while it still holds it), with the
            // current version read there: a newer publication is never written over.
            _ = try await StableNames.underSlotLock(queue: queue, slot: version.slot, holder: delivery.token,
                                                   lease: settings.outputs?.cleanupLease ?? .seconds(120)) { current throws(StorageError) in
                guard let text = try await names.read(master), MasterPlaylist.points(text, into: version.id) else { return false }
                try await names.restoreMaster(master, current: current)
                return true
            }
        } catch {
            logger.warning("could not point the stable master back; the janitor will", metadata: ["error": "\(error)"])
        }
    }

    private func reportFailure(
        _ failure: JobFailure, delivery: Delivery, queue: JobQueue, deadline: ContinuousClock.Instant, fetchNext: Int, traceID: String?,
        logger: Logger
    ) async throws -> (String, Delivery?) {
        let delay = settings.retryPolicy.delay(afterAttempt: delivery.attempt)
        var fetch = fetchNext
        let (result, fetched) = try await withRedisRetry(until: deadline) { () throws(RedisError) in
            defer { fetch = 0 }
            return try await queue.fail(id: delivery.id, token: delivery.token, code: failure.code, message: failure.message,
                                        retryable: failure.retryable, retryDelay: delay, thenFetch: fetch, traceID: traceID)
        }
        let next = fetched?.deliveries.first
        let metadata: Logger.Metadata = ["error_code": "\(failure.code)", "error": "\(failure.message)", "retryable": "\(failure.retryable)"]
        switch result {
        case .retryScheduled:
            metrics.count("mw_job_retries_total", type: delivery.type)
            logger.warning("job failed; retry scheduled", metadata: metadata.merging(["retry_in_s": "\(delay.seconds)"]) { $1 })
            return ("retry", next)
        case .dead:
            metrics.count("mw_jobs_dead_total", type: delivery.type)
            logger.error("job failed for good (dead letter)", metadata: metadata)
            return ("dead", next)
        case .canceled:
            logger.info("job canceled (its cancellation was requested while it failed)", metadata: metadata)
            return ("canceled", next)
        case .stale:
            logger.warning("job failure refused: its lease was given to another delivery", metadata: metadata)
            return ("stale", next)
        }
    }

    /// Races the handler against a stop request (cancel, lost lease, timeout, shutdown).
    private func outcome(of delivery: Delivery, envelope: JSONValue?, trace: JobTrace, queue: JobQueue, signal: StopSignal,
                         logger: Logger) async -> JobOutcome {
        guard let handler = handlers[delivery.type] else {
            return .failed(JobFailure(code: "JOB_TYPE_UNSUPPORTED", message: "this worker does not run '\(delivery.type)' jobs", retryable: false))
        }
        guard let envelope else { return .failed(.invalidJob("the stored job is not JSON")) }
        let context = JobContext(delivery: delivery, envelope: envelope, logger: logger,
                                 reporter: ProgressReporter(queue: queue, delivery: delivery, board: statusBoard, traceID: trace.traceID),
                                 trace: trace)
        logger.info("job started")
        statusBoard?.started(id: delivery.id, type: delivery.type, queue: queue.name, attempt: delivery.attempt)
        defer { statusBoard?.ended(id: delivery.id) }
        // The handler in a task of its own that a stop cancels (timeout, cancel request, lease
        // lost, shutdown: the heartbeat task watches them, one timer for all jobs).
        let work = Task<JobOutcome?, Never> {
            do {
                return .succeeded(try await handler.run(context))
            } catch let failure as JobFailure where failure.code == "JOB_CANCELED" {
                // An upload stopped by the stop request: its reason decides the report.
                return signal.reason.map(JobOutcome.stopped) ?? .failed(failure)
            } catch let failure as JobFailure {
                return .failed(failure)
            } catch is CancellationError {
                return nil
            } catch {
                return .failed(JobFailure(code: "JOB_INTERNAL", message: "\(error)", retryable: true))
            }
        }
        signal.onStop { work.cancel() }
        let ended = await withTaskCancellationHandler { await work.value } onCancel: { work.cancel() }
        // A stop that came before the work ended wins (also while the handler was unwinding):
        // its reason decides the report.
        if let reason = signal.close() { return .stopped(reason) }
        return ended ?? .stopped(.shutdown)
    }
}
