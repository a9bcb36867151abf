import Logging
import OTel
import ServiceLifecycle
import Tracing

/// swift-otel's OTLP/HTTP trace exporter, configured by the standard `OTEL_*` variables, as
/// the worker's `JobTracer` and the service that batches and exports its spans.
enum TracingBackend {
    static func make(_ settings: TracingSettings, workerID: String, logger: Logger) throws(ConfigurationError) -> (tracer: JobTracer, service: any Service)? {
        guard settings.enabled else { return nil }
        var configuration = OTel.Configuration.default
        // Defaults that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override.
        configuration.serviceName = "media-worker"
        configuration.resourceAttributes = ["service.version": MediaWorkerVersion.current, "service.instance.id": workerID]
        configuration.diagnosticLogger = .custom(logger)
        // Its start-up notes ("configuration updated from environment") are not news; failed exports are.
        configuration.diagnosticLogLevel = .warning
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.exporter = .otlp
        // swift-otel's batch processor exports one batch per tick (the schedule delay, or a full
        // queue): with the SDK's 5 s and 512 spans it sends ~100 spans/s and drops the rest of a
        // worker finishing thousands of short jobs a second (seen at 10,000 no-op jobs/s).
        // 4,096 spans every 200 ms keeps up with 20,000/s; the OTEL_BSP_* variables still override.
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
        configuration.traces.batchSpanProcessor.maxExportBatchSize = 4096
        configuration.traces.batchSpanProcessor.maxQueueSize = 16384
        do {
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            return (JobTracer(tracer: backend.factory, producerSpan: settings.producerSpan), backend.service)
        } catch {
            throw ConfigurationError(variable: "OTEL_*", reason: "traces cannot be exported: \(error)")
        }
    }
}
