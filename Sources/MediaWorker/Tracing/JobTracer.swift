import JobContract
import Logging
import OTel
import QueueClient
import Tracing

/// Starts each attempt's span from its job's envelope: a link to (or a child of) the producer's
/// `traceparent`, the producer's sampled flag followed, messaging attributes set.
public struct JobTracer: Sendable {
    /// nil: tracing is off; events still carry the producer's trace id.
    let tracer: (any Tracer)?
    let producerSpan: TracingSettings.ProducerSpan

    public static let off = JobTracer(tracer: nil, producerSpan: .link)

    public init(tracer: (any Tracer)?, producerSpan: TracingSettings.ProducerSpan) {
        self.tracer = tracer
        self.producerSpan = producerSpan
    }

    public var isOn: Bool { tracer != nil }

    /// The attempt's trace: a consumer span named `process <queue>` when tracing is on and the
    /// producer did not sample the job out.
    func begin(_ delivery: Delivery, envelope: JSONValue, logger: Logger) -> JobTrace {
        var producer: (parent: TraceParent, headers: [String: String])?
        if let text = envelope["traceparent"]?.stringValue {
            if let parent = TraceParent(parsing: text) {
                var headers = ["traceparent": text]
                if let state = envelope["tracestate"]?.stringValue { headers["tracestate"] = state }
                producer = (parent, headers)
            } else {
                // The recommendation's rule: an unreadable traceparent starts a new trace.
                logger.warning("the job's traceparent is not W3C Trace Context; ignored", metadata: ["traceparent": "\(text.prefix(64))"])
            }
        }
        guard let tracer else {
            return JobTrace(traceID: producer?.parent.traceID, producer: producer?.headers, tracer: nil, span: nil)
        }
        // The producer decided not to record this trace: neither does the worker, whatever the mode.
        if let producer, !producer.parent.sampled {
            return JobTrace(traceID: producer.parent.traceID, producer: producer.headers, tracer: nil, span: nil)
        }
        var producerContext = ServiceContext.topLevel
        if let producer { tracer.extract(producer.headers, into: &producerContext, using: HeaderCarrier()) }
        let parentContext = producer != nil && producerSpan == .child ? producerContext : .topLevel
        let span = tracer.startSpan("process \(delivery.queue)", context: parentContext, ofKind: .consumer)
        if producer != nil, producerSpan == .link { span.addLink(SpanLink(context: producerContext, attributes: [:])) }
        guard span.isRecording, let traceID = span.context.otelTraceID else {
            // Sampled out here (OTEL_TRACES_SAMPLER): the decision travels on to the parts.
            var own: [String: String] = [:]
            tracer.inject(span.context, into: &own, using: HeaderCarrier())
            span.end()
            return JobTrace(traceID: producer?.parent.traceID, producer: own["traceparent"] == nil ? producer?.headers : own, tracer: nil, span: nil)
        }
        // Set in one assignment (each span attribute write takes the span's lock and copies its set).
        var attributes = Self.processAttributes
        attributes[TraceAttributes.destination] = delivery.queue
        attributes[TraceAttributes.messageID] = delivery.id
        attributes[TraceAttributes.bodySize] = delivery.payload.count
        attributes[TraceAttributes.jobType] = delivery.type
        attributes[TraceAttributes.attempt] = delivery.attempt
        if let stage = delivery.stage { attributes[TraceAttributes.stage] = stage }
        if let parent = envelope["part"]?["parent"]?.stringValue { attributes[TraceAttributes.parentJob] = parent }
        span.attributes = attributes
        return JobTrace(traceID: traceID, producer: producer?.headers, tracer: tracer, span: span)
    }
}

extension JobTracer {
    /// What every attempt span says alike (the worker's id is the resource's `service.instance.id`).
    static let processAttributes: SpanAttributes = [
        TraceAttributes.messagingSystem: "mediaworker",
        TraceAttributes.operationType: "process",
        TraceAttributes.operationName: "process",
    ]
}

/// W3C headers in a dictionary, both ways.
struct HeaderCarrier: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
