import Logging
import ServiceLifecycle
import Tracing

/// The worker's tracer and the service exporting its spans over OTLP/HTTP, from the standard
/// `OTEL_*` variables (`TracingSettings.Export`).
///
/// Ours rather than swift-otel's: with swift-otel each span crossed an `AsyncStream` and an
/// actor, drew its ids from the system's generator under a lock and became SwiftProtobuf
/// messages before encoding: 30–49 µs more worker CPU per traced no-op job, against 2–8 µs
/// here; its processor, exporter and id generator are not public to replace. Here a span
/// is encoded as it ends into a locked buffer the exporter empties on its schedule
/// (docs/benchmarks.md, tracing).
enum TracingBackend {
    static func make(_ settings: TracingSettings, workerID: String, logger: Logger) throws(ConfigurationError) -> (tracer: JobTracer, service: any Service)? {
        guard settings.enabled else { return nil }
        let export = settings.export
        let client = try OTLPSpanExporter.clientConfiguration(export)
        let queue = SpanExportQueue(capacity: export.maxQueueSize, batchSize: export.maxExportBatchSize)
        let tracer = WorkerTracer(sampler: export.sampler, sink: queue)
        let exporter = OTLPSpanExporter(
            settings: export, queue: queue, resource: export.resource(workerID: workerID).map { ($0.key, $0.value) }, client: client, logger: logger)
        return (JobTracer(tracer: tracer, producerSpan: settings.producerSpan), exporter)
    }
}

extension Logger {
    /// `trace_id`, `span_id` and `trace_flags` of the span a log line is written in (none
    /// outside a traced attempt).
    static let traceMetadataProvider = Logger.MetadataProvider {
        guard let identity = ServiceContext.current?.spanIdentity else { return [:] }
        return ["trace_id": "\(identity.traceIDHex)", "span_id": "\(identity.spanIDHex)", "trace_flags": "\(identity.flagsHex)"]
    }
}
