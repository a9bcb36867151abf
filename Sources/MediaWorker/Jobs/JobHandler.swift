import Foundation
import Logging
import QueueClient

/// Runs one type of job. It returns the data of the job's completion event, or throws a
/// `JobFailure` (or any error, taken as a retryable internal failure). It must stop soon
/// after its task is cancelled (cancel request, lost lease, timeout, shutdown).
public protocol JobHandler: Sendable {
    func run(_ job: JobContext) async throws -> JSONValue
}

/// A failed attempt, with the code that appears in events and logs.
public struct JobFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// Worth another attempt (I/O, storage 5xx, timeouts) or not (invalid job, bad media).
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidJob(_ message: String) -> JobFailure {
        JobFailure(code: "JOB_INVALID", message: message, retryable: false)
    }
}

/// What a handler gets: the delivery, its decoded envelope, progress and annotations.
public struct JobContext: Sendable {
    public let delivery: Delivery
    public let envelope: JSONValue
    public let logger: Logger
    let reporter: ProgressReporter

    public var id: String { delivery.id }
    public var options: [String: JSONValue] { envelope["options"]?.objectValue ?? [:] }

    /// Progress as a fraction (0...1) with optional details; throttled to one event a second.
    public func progress(_ fraction: Double, details: [String: JSONValue] = [:]) async {
        await reporter.report(fraction: fraction, details: details)
    }

    /// Records what the job learned of its input (e.g. `meta_movie_id`) for all its later events.
    public func annotate(_ fields: [String: String]) async throws {
        try await reporter.annotate(fields)
    }

    /// Appends a per-asset event (e.g. `KeyframeReady`) in the job's envelope.
    public func announce(_ type: String, data: JSONValue) async throws {
        try await reporter.announce(type, data: data)
    }
}

/// Sends a job's progress to its queue at most once a second (the last value wins), or, for a
/// job run locally (`media-worker process`), hands progress and events to a callback.
actor ProgressReporter {
    private let queue: JobQueue?
    private let local: (@Sendable (String, JSONValue) -> Void)?
    private let delivery: Delivery
    private let interval: Duration
    private var lastSent: ContinuousClock.Instant?
    private let board: WorkerStatusBoard?

    init(queue: JobQueue, delivery: Delivery, interval: Duration = .seconds(1), board: WorkerStatusBoard? = nil) {
        self.queue = queue
        self.local = nil
        self.delivery = delivery
        self.interval = interval
        self.board = board
    }

    init(delivery: Delivery, interval: Duration = .milliseconds(200), local: @escaping @Sendable (String, JSONValue) -> Void) {
        self.queue = nil
        self.local = local
        self.delivery = delivery
        self.interval = interval
        self.board = nil
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
        data["percent"] = .number(percent)
        board?.progressed(id: delivery.id, percent: percent)
        guard let queue else {
            local?("JobProgress", .object(data))
            return
        }
        // Progress is advisory: a failure to send it must not fail the job.
        _ = try? await queue.progress(id: delivery.id, token: delivery.token, json: JSONValue.object(data).jsonText)
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

    func announce(_ type: String, data: JSONValue) async throws {
        guard let queue else {
            local?(type, data)
            return
        }
        _ = try await withRedisRetry { () throws(RedisError) in
            try await queue.announce(id: delivery.id, token: delivery.token, type: type, dataJSON: data.jsonText)
        }
    }
}
