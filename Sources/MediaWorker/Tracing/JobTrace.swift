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
    /// The attempt span's id (log lines).
    public let spanID: String?
    /// The W3C headers (`traceparent`, `tracestate`) the attempt hands on to its parts: its own
    /// span, or the producer's context unchanged (a sampled-out producer's parts stay sampled out).
    public let handOn: [String: String]?
    let tracer: (any Tracer)?
    let span: (any Span)?

    public static let none = JobTrace(traceID: nil, spanID: nil, handOn: nil, tracer: nil, span: nil)

    init(traceID: String?, spanID: String?, handOn: [String: String]?, tracer: (any Tracer)?, span: (any Span)?) {
        self.traceID = traceID
        self.spanID = spanID
        self.handOn = handOn
        self.tracer = tracer
        self.span = span
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
        child.attributes = attributes
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
        span.updateAttributes { attributes in
            attributes[TraceAttributes.outcome] = outcome
            if let failure { attributes[TraceAttributes.errorType] = failure.code }
        }
        if let failure {
            span.setStatus(SpanStatus(code: .error, message: "\(failure.code): \(failure.message)"))
        } else if ["completed", "split", "canceled", "released"].contains(outcome) {
            span.setStatus(SpanStatus(code: .ok))
        } else {
            span.setStatus(SpanStatus(code: .error, message: outcome))
        }
        span.end()
    }

    static func recordFailure(_ error: any Error, on span: any Span) {
        let code: String
        switch error {
        case let failure as JobFailure: code = failure.code
        case let media as MediaError: code = media.code.rawValue
        case is CancellationError: code = "JOB_CANCELED"
        default: code = "JOB_INTERNAL"
        }
        span.attributes[TraceAttributes.errorType] = code
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error, message: code))
    }

    /// The logger of the attempt: its lines carry `trace_id` and `span_id`.
    func tagging(_ logger: Logger) -> Logger {
        var logger = logger
        if let traceID { logger[metadataKey: "trace_id"] = "\(traceID)" }
        if let spanID { logger[metadataKey: "span_id"] = "\(spanID)" }
        return logger
    }
}

/// A child span as the code inside it sees it: attributes it learns on the way (bytes, rungs).
public struct ChildSpan: Sendable {
    let span: (any Span)?

    public func set(_ name: String, _ value: some SpanAttributeConvertible & Sendable) {
        span?.attributes[name] = value.toSpanAttribute()
    }
}
