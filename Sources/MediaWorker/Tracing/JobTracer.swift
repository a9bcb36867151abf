import JobContract
import Logging
import QueueClient
import Tracing

/// Starts each attempt's span from its job's envelope: a link to (or a child of) the producer's
/// `traceparent`, the producer's sampled flag followed, messaging attributes set. It runs for
/// every job, so it reads the `traceparent` once and sets the attributes in one list.
public struct JobTracer: Sendable {
    /// nil: tracing is off; events still carry the producer's trace id.
    let tracer: WorkerTracer?
    let producerSpan: TracingSettings.ProducerSpan

    public static let off = JobTracer(tracer: nil, producerSpan: .link)

    init(tracer: WorkerTracer?, producerSpan: TracingSettings.ProducerSpan) {
        self.tracer = tracer
        self.producerSpan = producerSpan
    }

    public var isOn: Bool { tracer != nil }

    /// The attempt's trace: a consumer span named `process <queue>` when tracing is on and the
    /// producer did not sample the job out.
    func begin(_ delivery: Delivery, envelope: JSONValue, logger: Logger) -> JobTrace {
        var producer: SpanIdentity?
        if let text = envelope["traceparent"]?.stringValue {
            producer = SpanIdentity(traceparent: text, traceState: envelope["tracestate"]?.stringValue)
            if producer == nil {
                // The recommendation's rule: an unreadable traceparent starts a new trace.
                logger.warning("the job's traceparent is not W3C Trace Context; ignored", metadata: ["traceparent": "\(text.prefix(64))"])
            }
        }
        // Off, or the producer decided not to record this trace: neither does the worker, whatever the mode.
        guard let tracer, producer?.sampled ?? true else {
            return JobTrace(traceID: producer?.traceIDHex, handedOn: producer, tracer: nil, span: nil)
        }
        var parentContext = ServiceContext.topLevel
        if let producer, producerSpan == .child { parentContext.spanIdentity = producer }
        let span = tracer.startSpan("process \(delivery.queue)", context: parentContext, ofKind: .consumer)
        if let producer, producerSpan == .link { span.addLink(to: producer) }
        guard span.isRecording else {
            // Sampled out here (OTEL_TRACES_SAMPLER): the decision travels on to the parts.
            return JobTrace(traceID: producer?.traceIDHex, handedOn: span.identity, tracer: nil, span: nil)
        }
        var attributes = Self.processAttributes
        attributes.append(WorkerSpan.Attribute(TraceAttributes.destination, .string(delivery.queue)))
        attributes.append(WorkerSpan.Attribute(TraceAttributes.messageID, .string(delivery.id)))
        attributes.append(WorkerSpan.Attribute(TraceAttributes.bodySize, .int64(Int64(delivery.payload.count))))
        attributes.append(WorkerSpan.Attribute(TraceAttributes.jobType, .string(delivery.type)))
        attributes.append(WorkerSpan.Attribute(TraceAttributes.attempt, .int64(Int64(delivery.attempt))))
        if let stage = delivery.stage { attributes.append(WorkerSpan.Attribute(TraceAttributes.stage, .string(stage))) }
        if let parent = envelope["part"]?["parent"]?.stringValue { attributes.append(WorkerSpan.Attribute(TraceAttributes.parentJob, .string(parent))) }
        span.set(attributes)
        return JobTrace(traceID: span.identity.traceIDHex, handedOn: producer, tracer: tracer, span: span)
    }
}

extension JobTracer {
    /// What every attempt span says alike (the worker's id is the resource's `service.instance.id`).
    static let processAttributes: [WorkerSpan.Attribute] = [
        WorkerSpan.Attribute(TraceAttributes.messagingSystem, "mediaworker"),
        WorkerSpan.Attribute(TraceAttributes.operationType, "process"),
        WorkerSpan.Attribute(TraceAttributes.operationName, "process"),
    ]
}
