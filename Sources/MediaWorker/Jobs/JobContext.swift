import Foundation
import JobContract
import Logging
import QueueClient
import RedisClient
import Storage

/// What a handler gets: the delivery, its decoded envelope, progress and annotations.
public struct JobContext: Sendable {
    public let delivery: Delivery
    public let envelope: JSONValue
    public let logger: Logger
    let reporter: ProgressReporter
    /// The attempt's span and trace id: child spans (`trace.measure`) and the parts' `traceparent`.
    public let trace: JobTrace

    init(delivery: Delivery, envelope: JSONValue, logger: Logger, reporter: ProgressReporter, trace: JobTrace = .none) {
        self.delivery = delivery
        self.envelope = envelope
        self.logger = logger
        self.reporter = reporter
        self.trace = trace
    }

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
