import Storage
import JobContract
import Foundation
import Logging
import QueueClient
import RedisClient

/// Runs one type of job. It returns the data of the job's completion event and what
/// publication writes, or throws a `JobFailure` (or any error, taken as a retryable internal
/// failure). It must stop soon after its task is cancelled (cancel request, lost lease,
/// timeout, shutdown).
public protocol JobHandler: Sendable {
    func run(_ job: JobContext) async throws -> JobResult
    /// Whether its jobs decode or encode media (large buffers from many threads): the worker
    /// gives freed heap pages back after those (`HeapTrim`). Yes unless a handler says otherwise.
    var handlesMedia: Bool { get }
}

extension JobHandler {
    public var handlesMedia: Bool { true }
}

/// What a handler hands back: the completion event's data, and, when it wrote outputs, their
/// version with what publication adds to it. Publication is one step after every versioned
/// object is uploaded: the stable names are written, then the job completes and its per-asset
/// events are appended with its terminal event.
public struct JobResult: Sendable {
    public var data: JSONValue
    /// Where the outputs were uploaded (nil: the job wrote nothing).
    public var version: OutputVersion?
    /// Stable names written at publication, last (the master playlist pointing into the version).
    public var stableObjects: [StableObject]
    /// Per-asset events (`KeyframeReady`, ...) appended just before the terminal event.
    public var assets: [(type: String, data: JSONValue)]
    /// Instead of completing, the job splits into these parts and waits for them (`data` is
    /// the `TranscodeSplit` event's); its output version must be recorded already.
    public var parts: [JobPart]?

    public init(data: JSONValue, version: OutputVersion? = nil, stableObjects: [StableObject] = [],
                assets: [(type: String, data: JSONValue)] = [], parts: [JobPart]? = nil) {
        self.data = data
        self.version = version
        self.stableObjects = stableObjects
        self.assets = assets
        self.parts = parts
    }
}

/// A small object written under a stable name at publication.
public struct StableObject: Sendable, Equatable {
    public var location: StorageLocation
    public var contents: String
    public var contentType: String

    public init(location: StorageLocation, contents: String, contentType: String) {
        self.location = location
        self.contents = contents
        self.contentType = contentType
    }
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
    /// The worker running it ("local" for `media-worker process`).
    public var workerID: String { reporter.workerID }

    /// The job's typed options; a job stored before a schema change may not fit them (`JOB_INVALID_FIELD`).
    public func options<Options: JobOptionsType>(_ type: Options.Type) throws(JobFailure) -> Options {
        do {
            return try JobOptions.decode(type, from: envelope["options"].flatMap { $0 == .null ? nil : $0 })
        } catch {
            throw JobFailure(code: error.code.rawValue, message: error.message, retryable: false)
        }
    }

    /// Progress as a fraction (0...1) with optional details; throttled to one event a second.
    public func progress(_ fraction: Double, details: [String: JSONValue] = [:]) async {
        await reporter.report(fraction: fraction, details: details)
    }

    /// Records what the job learned of its input (e.g. `meta_movie_id`) for all its later events.
    public func annotate(_ fields: [String: String]) async throws {
        try await reporter.annotate(fields)
    }

    /// Whether this job may split into parts run by other workers (not when run locally).
    public var canSplit: Bool { reporter.hasQueue }

    /// A split job's parts as Redis has them (its stitch reads their results).
    public func parts() async throws(JobFailure) -> [PartRecord] { try await reporter.parts() }

    /// What the job recorded when it split.
    public func splitRecord() async throws(JobFailure) -> String? { try await reporter.splitRecord() }

    /// Records the version this attempt will write, before its first upload: whatever becomes
    /// of the attempt, a janitor can then find and delete what it wrote.
    public func recordVersion(_ version: OutputVersion) async throws(JobFailure) {
        try await reporter.recordVersion(version)
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
    nonisolated let workerID: String
    nonisolated var hasQueue: Bool { queue != nil }

    init(queue: JobQueue, delivery: Delivery, interval: Duration = .seconds(1), board: WorkerStatusBoard? = nil) {
        self.queue = queue
        self.local = nil
        self.delivery = delivery
        self.interval = interval
        self.board = board
        self.workerID = queue.actor
    }

    init(delivery: Delivery, interval: Duration = .milliseconds(200), local: @escaping @Sendable (String, JSONValue) -> Void) {
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
