/// Tracing, from the OpenTelemetry SDK's standard variables (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`,
/// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`/`TIMEOUT`/certificates: `Export`) plus `MW_TRACE_PRODUCER_SPAN`.
///
/// Off unless asked for: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp` (its default endpoint,
/// http://localhost:4318). `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
public struct TracingSettings: Sendable, Equatable {
    /// How an attempt's span relates to the producer's span named by the job's `traceparent`.
    public enum ProducerSpan: String, Sendable {
        /// A new trace per attempt with a link to the producer's span (the default: a job may
        /// wait hours and retry; its attempts do not stretch the producer's trace).
        case link
        /// The attempt's span is a child of the producer's: one trace from enqueue to the end.
        case child
    }

    public var enabled: Bool
    public var producerSpan: ProducerSpan
    /// Where spans go (the traces URL), and how.
    public var export: Export
    public var endpoint: String { export.endpoint }

    public static let off = TracingSettings(enabled: false, producerSpan: .link, export: Export(endpoint: ""))

    init(enabled: Bool, producerSpan: ProducerSpan, export: Export) {
        self.enabled = enabled
        self.producerSpan = producerSpan
        self.export = export
    }

    public init(environment: [String: String]) throws(ConfigurationError) {
        let relation = environment.setting("MW_TRACE_PRODUCER_SPAN") ?? "link"
        guard let producerSpan = ProducerSpan(rawValue: relation.lowercased()) else {
            throw ConfigurationError(variable: "MW_TRACE_PRODUCER_SPAN", reason: "link (a new trace linked to the producer's span) or child")
        }
        self.producerSpan = producerSpan
        let disabled = ["true", "1", "yes"].contains(environment.setting("OTEL_SDK_DISABLED")?.lowercased() ?? "")
        let exporter = environment.setting("OTEL_TRACES_EXPORTER")?.lowercased()
        let specific = environment.setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        let shared = environment.setting("OTEL_EXPORTER_OTLP_ENDPOINT")
        let endpoint = specific ?? shared.map { $0.hasSuffix("/") ? $0 + "v1/traces" : $0 + "/v1/traces" } ?? "http://localhost:4318/v1/traces"
        export = Export(endpoint: endpoint)
        if let exporter, exporter != "otlp", exporter != "none" {
            throw ConfigurationError(variable: "OTEL_TRACES_EXPORTER", reason: "otlp or none (\(exporter) is not built in)")
        }
        enabled = !disabled && exporter != "none" && (exporter == "otlp" || specific != nil || shared != nil)
        guard enabled else { return }
        for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            guard let value = environment.setting(variable) else { continue }
            guard value.lowercased() == "http/protobuf" else {
                throw ConfigurationError(variable: variable, reason: "http/protobuf (OTLP over gRPC or JSON is not built in)")
            }
            break
        }
        // The job envelope carries W3C Trace Context: the propagator must read it.
        if let propagators = environment.setting("OTEL_PROPAGATORS"),
           !propagators.lowercased().split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).contains("tracecontext") {
            throw ConfigurationError(variable: "OTEL_PROPAGATORS", reason: "must include tracecontext (jobs carry a W3C traceparent)")
        }
        export = try Export(environment: environment, endpoint: endpoint)
    }
}
