import Foundation
import JobContract
import Logging
import Tracing

/// One attempt's place in a trace: its span (when it records one), the trace id its events
/// carry, and the `traceparent` it hands to the parts of a split job.
public struct JobTrace: Sendable {
    /// The trace the attempt's events name (`trace_id`): the attempt span's, or, when the worker
    /// records none, the producer's.
    public let traceID: String?
    /// The context handed on when the attempt records no span of its own: the producer's
    /// (a sampled-out producer's parts stay sampled out), or the worker's sampled-out span's.
    let handedOn: SpanIdentity?
    let tracer: WorkerTracer?
    let span: WorkerSpan?

    public static let none = JobTrace(traceID: nil, handedOn: nil, tracer: nil, span: nil)

    init(traceID: String?, handedOn: SpanIdentity?, tracer: WorkerTracer?, span: WorkerSpan?) {
        self.traceID = traceID
        self.handedOn = handedOn
        self.tracer = tracer
        self.span = span
    }

    /// The W3C headers (`traceparent`, `tracestate`) the attempt hands on to its parts: its own
    /// span's when it has one (made only when a job splits: a no-op job never pays for it).
    public func handOn() -> [String: String]? {
        guard let identity = span?.identity ?? handedOn else { return nil }
        var headers = ["traceparent": identity.traceparent]
        if let state = identity.traceState, !state.isEmpty { headers["tracestate"] = state }
        return headers
    }

    /// Runs `body` in the attempt span's task-local context: its log lines get `trace_id` and
    /// `span_id` (`Logger.traceMetadataProvider` reads it), only when a line is written.
    func within<T>(_ body: () async -> T) async -> T {
        guard let span else { return await body() }
        return await ServiceContext.withValue(span.context) { await body() }
    }

    /// Whether spans are being recorded for this attempt.
    public var isRecording: Bool { span?.isRecording ?? false }

    /// Runs `body` in a child span of the attempt (download, probe, encode, upload, publish):
    /// its duration, the attributes given and those `body` adds, and its error if it throws.
    public func measure<T>(
        _ name: String, attributes: SpanAttributes = [:], _ body: (ChildSpan) async throws -> T
    ) async rethrows -> T {
        guard let tracer, let span, span.isRecording else { return try await body(ChildSpan(span: nil)) }
        let child = tracer.startSpan(name, context: span.context, ofKind: .internal)
        child.set(WorkerSpan.Attribute.list(attributes))
        defer { child.end() }
        do {
            return try await body(ChildSpan(span: child))
        } catch {
            Self.recordFailure(error, on: child)
            throw error
        }
    }

    /// Adds attributes to the attempt's span.
    public func annotate(_ update: (inout SpanAttributes) -> Void) {
        guard let span, span.isRecording else { return }
        span.updateAttributes(update)
    }

    /// Ends the attempt's span with how the delivery ended (`completed`, `retry`, `dead`, ...).
    func end(outcome: String, failure: JobFailure?) {
        guard let span else { return }
        var attributes = [WorkerSpan.Attribute(TraceAttributes.outcome, .string(outcome))]
        if let failure { attributes.append(WorkerSpan.Attribute(TraceAttributes.errorType, .string(failure.code))) }
        span.append(attributes)
        // Success leaves the status unset, as the specification asks of instrumentation.
        if let failure {
            span.setStatus(SpanStatus(code: .error, message: "\(failure.code): \(failure.message)"))
        } else if !["completed", "split", "canceled", "released"].contains(outcome) {
            span.setStatus(SpanStatus(code: .error, message: outcome))
        }
        span.end()
    }

    static func recordFailure(_ error: any Error, on span: WorkerSpan) {
        let code: String
        switch error {
        case let failure as JobFailure: code = failure.code
        case let media as MediaError: code = media.code.rawValue
        case is CancellationError: code = "JOB_CANCELED"
        default: code = "JOB_INTERNAL"
        }
        span.set([WorkerSpan.Attribute(TraceAttributes.errorType, .string(code))])
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error, message: code))
    }

    /// The logger of an attempt that records no span (tracing off, or sampled out): its lines
    /// name the producer's trace. A recording attempt's come from its task-local context.
    func tagging(_ logger: Logger) -> Logger {
        guard span == nil, let traceID else { return logger }
        var logger = logger
        logger[metadataKey: "trace_id"] = "\(traceID)"
        return logger
    }
}

/// A child span as the code inside it sees it: attributes it learns on the way (bytes, rungs).
public struct ChildSpan: Sendable {
    let span: WorkerSpan?

    public func set(_ name: String, _ value: some SpanAttributeConvertible & Sendable) {
        span?.set([WorkerSpan.Attribute(name, value.toSpanAttribute())])
    }
}
