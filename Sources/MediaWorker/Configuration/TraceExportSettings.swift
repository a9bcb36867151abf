import Foundation

extension TracingSettings {
    /// A `key=value` from a list variable (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_RESOURCE_ATTRIBUTES`).
    public struct Pair: Sendable, Equatable {
        public let key: String
        public let value: String
    }

    /// How spans leave the worker, from the OpenTelemetry SDK's standard variables: where
    /// (`OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`), with which headers, timeouts and certificates,
    /// how they are batched (`OTEL_BSP_*`), sampled (`OTEL_TRACES_SAMPLER(_ARG)`) and named
    /// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
    public struct Export: Sendable, Equatable {
        /// The full traces URL (`…/v1/traces`).
        public var endpoint: String
        public var headers: [Pair] = []
        /// One request's timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s).
        public var requestTimeout: Duration = .seconds(10)
        /// One batch's export, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, 30 s).
        public var exportTimeout: Duration = .seconds(30)
        /// gzip the request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
        public var gzip = false
        /// PEM files: the CA that signs the collector's certificate, and this client's own.
        public var certificate: String?
        public var clientCertificate: String?
        public var clientKey: String?
        // The SDK's 5 s and 512 spans would export about 100 spans a second; a worker finishing
        // thousands of short jobs a second needs 4,096 every 200 ms (20,000 spans/s).
        public var scheduleDelay: Duration = .milliseconds(200)
        public var maxExportBatchSize = 4096
        public var maxQueueSize = 16384
        var sampler: TraceSampler = .standard
        /// `service.name`, `service.version`, `service.instance.id` (set from the worker id when
        /// the variables do not) and whatever `OTEL_RESOURCE_ATTRIBUTES` adds.
        public var resource: [Pair] = []

        init(endpoint: String) {
            self.endpoint = endpoint
        }

        init(environment: [String: String], endpoint: String) throws(ConfigurationError) {
            self.endpoint = endpoint
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                let variable = environment.setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != nil ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT"
                throw ConfigurationError(variable: variable, reason: "an http:// or https:// URL (\(endpoint))")
            }
            func specific(_ suffix: String) -> (variable: String, value: String)? {
                for variable in ["OTEL_EXPORTER_OTLP_TRACES_" + suffix, "OTEL_EXPORTER_OTLP_" + suffix] {
                    if let value = environment.setting(variable) { return (variable, value) }
                }
                return nil
            }
            if let (variable, value) = specific("HEADERS") { headers = try Self.pairs(value, variable: variable) }
            if let (variable, value) = specific("TIMEOUT") { requestTimeout = try Self.milliseconds(value, variable: variable) }
            if let (variable, value) = specific("COMPRESSION") {
                switch value.lowercased() {
                case "gzip": gzip = true
                case "none": gzip = false
                default: throw ConfigurationError(variable: variable, reason: "gzip or none")
                }
            }
            certificate = specific("CERTIFICATE")?.value
            clientCertificate = specific("CLIENT_CERTIFICATE")?.value
            clientKey = specific("CLIENT_KEY")?.value
            // Mutual TLS needs both files: name the one missing.
            if clientCertificate == nil, clientKey != nil {
                throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", reason: "needed with OTEL_EXPORTER_OTLP_CLIENT_KEY")
            }
            if clientKey == nil, clientCertificate != nil {
                throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_CLIENT_KEY", reason: "needed with OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
            }
            for (variable, path) in [("CERTIFICATE", certificate), ("CLIENT_CERTIFICATE", clientCertificate), ("CLIENT_KEY", clientKey)] {
                if let path, !FileManager.default.isReadableFile(atPath: path) {
                    throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_" + variable, reason: "cannot read \(path)")
                }
            }
            if let value = environment.setting("OTEL_BSP_SCHEDULE_DELAY") { scheduleDelay = try Self.milliseconds(value, variable: "OTEL_BSP_SCHEDULE_DELAY") }
            if let value = environment.setting("OTEL_BSP_EXPORT_TIMEOUT") { exportTimeout = try Self.milliseconds(value, variable: "OTEL_BSP_EXPORT_TIMEOUT") }
            if let value = environment.setting("OTEL_BSP_MAX_QUEUE_SIZE") { maxQueueSize = try Self.count(value, variable: "OTEL_BSP_MAX_QUEUE_SIZE") }
            if let value = environment.setting("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
                maxExportBatchSize = try Self.count(value, variable: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
            } else {
                // A smaller queue alone (the SDK's 2,048, say) brings the default batch down with it.
                maxExportBatchSize = min(maxExportBatchSize, maxQueueSize)
            }
            guard maxExportBatchSize <= maxQueueSize else {
                throw ConfigurationError(variable: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", reason: "at most OTEL_BSP_MAX_QUEUE_SIZE (\(maxQueueSize))")
            }
            if let name = environment.setting("OTEL_TRACES_SAMPLER") {
                guard let sampler = TraceSampler(name: name, argument: environment.setting("OTEL_TRACES_SAMPLER_ARG")) else {
                    throw ConfigurationError(variable: "OTEL_TRACES_SAMPLER", reason: "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")
                }
                self.sampler = sampler
            }
            var resource: [Pair] = []
            if let text = environment.setting("OTEL_RESOURCE_ATTRIBUTES") { resource = try Self.pairs(text, variable: "OTEL_RESOURCE_ATTRIBUTES") }
            if let name = environment.setting("OTEL_SERVICE_NAME") { resource.append(Pair(key: "service.name", value: name)) }
            // OTLP wants each key once: the last one given wins.
            self.resource = resource.enumerated().filter { index, pair in !resource[(index + 1)...].contains { $0.key == pair.key } }.map(\.element)
        }

        /// The resource with the worker's defaults under what the variables set.
        func resource(workerID: String) -> [Pair] {
            var all = resource
            for (key, value) in [
                ("service.name", "media-worker"), ("service.version", MediaWorkerVersion.current), ("service.instance.id", workerID),
                ("telemetry.sdk.name", "media-worker"), ("telemetry.sdk.language", "swift"), ("telemetry.sdk.version", MediaWorkerVersion.current),
            ] where !all.contains(where: { $0.key == key }) {
                all.append(Pair(key: key, value: value))
            }
            return all
        }

        /// `key=value,key=value`, values percent-decoded (the W3C Baggage form the SDKs read).
        static func pairs(_ text: String, variable: String) throws(ConfigurationError) -> [Pair] {
            var pairs: [Pair] = []
            for item in text.split(separator: ",") {
                let trimmed = item.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                guard let equals = trimmed.firstIndex(of: "="),
                      case let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces), !key.isEmpty,
                      let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces).removingPercentEncoding else {
                    throw ConfigurationError(variable: variable, reason: "key=value pairs separated by commas, values percent-encoded (\(trimmed.prefix(40)))")
                }
                pairs.append(Pair(key: key, value: value))
            }
            return pairs
        }

        static func milliseconds(_ text: String, variable: String) throws(ConfigurationError) -> Duration {
            guard let value = Int(text), value > 0, value <= 86_400_000 else {
                throw ConfigurationError(variable: variable, reason: "milliseconds, 1 to 86400000 (\(text.prefix(20)))")
            }
            return .milliseconds(value)
        }

        static func count(_ text: String, variable: String) throws(ConfigurationError) -> Int {
            guard let value = Int(text), value > 0, value <= 1_000_000 else {
                throw ConfigurationError(variable: variable, reason: "a count, 1 to 1000000 (\(text.prefix(20)))")
            }
            return value
        }
    }
}
