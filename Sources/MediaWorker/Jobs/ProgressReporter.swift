import Foundation
import JobContract
import Logging
import QueueClient
import RedisClient
import Storage

/// Sends a job's progress to its queue at most once a second (the last value wins), or, for a
/// job run locally (`media-worker process`), hands progress and events to a callback.
actor ProgressReporter {
    private let queue: JobQueue?
    private let local: (@Sendable (String, JSONValue) -> Void)?
    private let delivery: Delivery
    private let interval: Duration
    private var lastSent: ContinuousClock.Instant?
    private let board: WorkerStatusBoard?
    nonisolated let workerID: String
    nonisolated var hasQueue: Bool { queue != nil }

    /// The trace the attempt's JobProgress events name.
    private let traceID: String?

    init(queue: JobQueue, delivery: Delivery, interval: Duration = .seconds(1), board: WorkerStatusBoard? = nil, traceID: String? = nil) {
        self.traceID = traceID
        self.queue = queue
        self.local = nil
        self.delivery = delivery
        self.interval = interval
        self.board = board
        self.workerID = queue.actor
    }

    init(delivery: Delivery, interval: Duration = .milliseconds(200), local: @escaping @Sendable (String, JSONValue) -> Void) {
        traceID = nil
        self.queue = nil
        self.local = local
        self.delivery = delivery
        self.interval = interval
        self.board = nil
        self.workerID = "local"
    }

    private var lastFraction = -1.0

    /// At most one event per interval (the job's completion event says the rest); never backwards,
    /// since reports may come from several tasks.
    func report(fraction: Double, details: [String: JSONValue]) async {
        let now = ContinuousClock.now
        if let lastSent, now - lastSent < interval { return }
        if fraction < lastFraction { return }
        lastSent = now
        lastFraction = fraction
        var data = details
        let percent = (min(max(fraction, 0), 1) * 1000).rounded() / 10
        data["percent"] = .double(percent)
        board?.progressed(id: delivery.id, percent: percent)
        guard let queue else {
            local?("JobProgress", .object(data))
            return
        }
        // Progress is advisory: a failure to send it must not fail the job.
        _ = try? await queue.progress(id: delivery.id, token: delivery.token, json: JSONValue.object(data).jsonText, traceID: traceID)
    }

    func annotate(_ fields: [String: String]) async throws {
        guard let queue else {
            local?("JobAnnotated", .object(fields.mapValues { .string($0) }))
            return
        }
        _ = try await withRedisRetry { () throws(RedisError) in
            try await queue.annotate(id: delivery.id, token: delivery.token, fields: fields)
        }
    }

    func parts() async throws(JobFailure) -> [PartRecord] {
        guard let queue else { return [] }
        do {
            return try await withRedisRetry(until: .now + .seconds(60)) { () throws(RedisError) in try await queue.parts(of: delivery.id) }
        } catch {
            throw JobFailure(code: "JOB_REDIS_UNAVAILABLE", message: "cannot read the job's parts: \(error)", retryable: true)
        }
    }

    func splitRecord() async throws(JobFailure) -> String? {
        guard let queue else { return nil }
        do {
            return try await withRedisRetry(until: .now + .seconds(60)) { () throws(RedisError) in try await queue.splitRecord(of: delivery.id) }
        } catch {
            throw JobFailure(code: "JOB_REDIS_UNAVAILABLE", message: "cannot read the job's split: \(error)", retryable: true)
        }
    }

    /// The version recorded last (a job run locally cleans up after itself with it).
    private(set) var recordedVersion: OutputVersion?

    func recordVersion(_ version: OutputVersion) async throws(JobFailure) {
        recordedVersion = version
        guard let queue else { return }
        let recorded: Bool
        do {
            recorded = try await withRedisRetry { () throws(RedisError) in
                try await queue.openVersion(id: delivery.id, token: delivery.token, version: version.record)
            }
        } catch {
            throw JobFailure(code: "JOB_REDIS_UNAVAILABLE", message: "cannot record the output version: \(error)", retryable: true)
        }
        // Not recorded: the lease is gone, so nothing may be uploaded (no janitor would know of it).
        guard recorded else { throw JobFailure(code: "JOB_LEASE_LOST", message: "the job's lease was given to another delivery", retryable: true) }
    }
}
