import Tracing

/// The worker's tracer: W3C Trace Context in and out, the configured sampler, spans queued for
/// the OTLP exporter when they end. Built for a span per job at tens of thousands of jobs a
/// second: ids from one seeded generator, a span's state under one lock, no task or actor hop
/// per span (it is encoded as it ends; the exporter takes what queued on its own schedule).
struct WorkerTracer: Tracer {
    typealias Span = WorkerSpan

    let sampler: TraceSampler
    let sink: any SpanSink
    let ids: SpanIDGenerator

    init(sampler: TraceSampler, sink: any SpanSink, ids: SpanIDGenerator = SpanIDGenerator()) {
        self.sampler = sampler
        self.sink = sink
        self.ids = ids
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> WorkerSpan {
        var spanContext = context()
        let parent = spanContext.spanIdentity
        let (traceHigh, traceLow, spanID) = parent.map { ($0.traceHigh, $0.traceLow, ids.next()) } ?? ids.nextTrace()
        let sampled = sampler.shouldSample(traceHigh: traceHigh, traceLow: traceLow, parent: parent)
        let identity = SpanIdentity(traceHigh: traceHigh, traceLow: traceLow, spanID: spanID, flags: sampled ? 1 : 0, traceState: parent?.traceState)
        spanContext.spanIdentity = identity
        return WorkerSpan(
            context: spanContext, identity: identity, parentSpanID: parent?.spanID ?? 0, name: operationName, kind: kind,
            start: instant().nanosecondsSinceEpoch, sink: sampled ? sink : nil)
    }

    /// Spans go out on the exporter's schedule and when it stops.
    func forceFlush() {}

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract) where Extract.Carrier == Carrier {
        guard let text = extractor.extract(key: "traceparent", from: carrier),
              let identity = SpanIdentity(traceparent: text, traceState: extractor.extract(key: "tracestate", from: carrier)) else { return }
        context.spanIdentity = identity
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject) where Inject.Carrier == Carrier {
        guard let identity = context.spanIdentity else { return }
        injector.inject(identity.traceparent, forKey: "traceparent", into: &carrier)
        if let state = identity.traceState, !state.isEmpty { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}
