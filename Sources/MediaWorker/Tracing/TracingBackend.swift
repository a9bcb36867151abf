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
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.exporter = .otlp
        do {
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            return (JobTracer(tracer: backend.factory, producerSpan: settings.producerSpan, workerID: workerID), backend.service)
        } catch {
            throw ConfigurationError(variable: "OTEL_*", reason: "traces cannot be exported: \(error)")
        }
    }
}
