import Foundation
import JobContract
import Logging
import QueueClient
import RedisClient
import Storage

/// Everything the daemon reads from its environment. See docs/configuration.md.
public struct WorkerConfiguration: Sendable {
    public static let defaultRedisURL = "redis://127.0.0.1:6379/0"

    public var redisURL: RedisURL
    public var httpHost: String
    public var httpPort: Int
    /// Root of local-directory storage (`file://` URLs are confined to it).
    public var storageRoot: String
    /// Jobs' temporary files (`MW_TEMP_DIR`): one folder per worker process, one per job inside.
    public var tempRoot: String
    /// Inputs over this many bytes are refused on HEAD (`MW_MAX_INPUT_BYTES`).
    public var maxInputBytes: Int64
    /// Below this much free space in `tempRoot` the worker reports not ready (`MW_MIN_FREE_BYTES`).
    public var minFreeBytes: Int64
    /// Prefix of every Redis key (`<prefix>:{<queue>}:...`).
    public var queuePrefix: String
    public var queues: [String]
    public var concurrency: Int
    public var logLevel: Logger.Level
    public var workerID: String
    public var aws: AWSSettings
    /// Buckets `s3://` URLs may name (`MW_S3_BUCKETS`); none: S3 is not used.
    public var s3Buckets: [String]
    /// Virtual-hosted addressing (`bucket.host`) instead of path-style (`MW_S3_VIRTUAL_HOSTED=1`).
    public var s3VirtualHosted: Bool
    /// `MW_S3_SSE`, `MW_S3_SSE_KMS_KEY_ID`, `MW_S3_SSE_BUCKET_KEY`: server-side encryption of every
    /// object written to S3; nil: none asked (the bucket's default applies).
    public var s3ServerSideEncryption: ServerSideEncryption?
    /// `MW_CACHE_CONTROL_*`, `MW_CONTENT_TYPES`: the headers outputs are written with.
    public var objectHeaders = ObjectHeaders()
    /// `MW_HLS_KEY_URL`, `MW_HLS_KEY_STORE`: keys of transcodes with `options.encryption`.
    public var hlsKeys = HLSKeySettings()
    /// `MW_ASR_*`: the engine of automatic captions.
    public var speechRecognition = SpeechRecognitionSettings()
    /// Where jobs made from MinIO notifications write their outputs.
    public var defaultOutputURL: String?
    public var lease: Duration
    public var maxStalls: Int
    public var gracePeriod: Duration
    public var retryBase: Duration
    public var retryCap: Duration
    public var retention: Duration
    public var eventsMaxLength: Int
    /// How long a superseded output version stays after a newer one is published (`MW_OUTPUT_GRACE_S`).
    public var outputGrace: Duration
    /// Uploads in flight at once per job (`MW_UPLOAD_CONCURRENCY`).
    public var uploadConcurrency: Int
    /// Replicas that must have each terminal transition (`MW_REDIS_WAIT_REPLICAS`, 0: none) and how
    /// long to wait for them (`MW_REDIS_WAIT_TIMEOUT_MS`).
    public var waitReplicas: Int
    public var waitTimeout: Duration
    /// Transcodes of inputs longer than this are split across the pool (`MW_SPLIT_MIN_S`; 0: never).
    public var splitMinimumSeconds: Double?
    /// Where events are POSTed, signed (`MW_WEBHOOK_*`); nil: no webhooks.
    public var webhooks: WebhookSettings?
    /// OpenTelemetry traces (`OTEL_*`, `MW_TRACE_PRODUCER_SPAN`); off unless an OTLP endpoint is set.
    public var tracing: TracingSettings = .off

    public init(environment: [String: String]) throws(ConfigurationError) {

        do {
            redisURL = try RedisURL(parsing: environment.setting("MW_REDIS_URL") ?? Self.defaultRedisURL, tls: RedisTLSOptions(environment: environment))
        } catch {
            throw ConfigurationError(variable: "MW_REDIS_URL", reason: "\(error)")
        }
        do {
            // Certificate files are read now: a typo is a start-up error, not a retry loop.
            try redisURL.tls?.validate()
        } catch {
            throw ConfigurationError(variable: "MW_REDIS_TLS_*", reason: "\(error)")
        }

        (httpHost, httpPort) = try Self.parseAddress(environment.setting("MW_HTTP_ADDR") ?? "127.0.0.1:8080")
        storageRoot = environment.setting("MW_STORAGE_ROOT") ?? "./var/storage"
        tempRoot = environment.setting("MW_TEMP_DIR") ?? "./var/tmp"
        guard let maxInput = Int64(environment.setting("MW_MAX_INPUT_BYTES") ?? "21474836480"), maxInput > 0 else {
            throw ConfigurationError(variable: "MW_MAX_INPUT_BYTES", reason: "a positive number of bytes")
        }
        maxInputBytes = maxInput
        guard let minFree = Int64(environment.setting("MW_MIN_FREE_BYTES") ?? "1073741824"), minFree >= 0 else {
            throw ConfigurationError(variable: "MW_MIN_FREE_BYTES", reason: "a number of bytes")
        }
        minFreeBytes = minFree
        queuePrefix = environment.setting("MW_QUEUE_PREFIX") ?? "mw"
        guard queuePrefix.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ConfigurationError(variable: "MW_QUEUE_PREFIX", reason: "use letters, digits, '-', '_' or '.'")
        }
        queues = try Self.parseQueues(environment.setting("MW_QUEUES") ?? "default", variable: "MW_QUEUES")
        concurrency = try Self.parsePositive(environment.setting("MW_CONCURRENCY") ?? "1", variable: "MW_CONCURRENCY", max: 256)
        let levelName = environment.setting("MW_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ConfigurationError(variable: "MW_LOG_LEVEL", reason: "one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
        workerID = environment.setting("MW_WORKER_ID") ?? Self.defaultWorkerID()
        guard JobDecoder.isSafeIdentifier(workerID) else {
            throw ConfigurationError(variable: "MW_WORKER_ID", reason: "use 1-128 letters, digits, '.', '_', ':' or '-'")
        }
        aws = AWSSettings(environment: environment)
        s3Buckets = (environment.setting("MW_S3_BUCKETS") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard s3Buckets.allSatisfy(StorageLocation.isValidBucket) else {
            throw ConfigurationError(variable: "MW_S3_BUCKETS", reason: "comma-separated S3 bucket names")
        }
        s3VirtualHosted = ["1", "true", "yes"].contains(environment.setting("MW_S3_VIRTUAL_HOSTED")?.lowercased() ?? "")
        switch ServerSideEncryption.parse(mode: environment.setting("MW_S3_SSE"), kmsKeyID: environment.setting("MW_S3_SSE_KMS_KEY_ID"),
                                          bucketKey: environment.setting("MW_S3_SSE_BUCKET_KEY")) {
        case .success(let encryption): s3ServerSideEncryption = encryption
        case .failure(let fault): throw ConfigurationError(variable: fault.variable, reason: fault.reason)
        }
        for (variable, path) in [("MW_CACHE_CONTROL_IMMUTABLE", \ObjectHeaders.immutableCacheControl),
                                 ("MW_CACHE_CONTROL_MANIFESTS", \ObjectHeaders.manifestCacheControl),
                                 ("MW_CACHE_CONTROL_STABLE", \ObjectHeaders.stableCacheControl)] {
            guard let value = environment.setting(variable) else { continue }
            guard ObjectHeaders.isHeaderValue(value) else { throw ConfigurationError(variable: variable, reason: "not a header value") }
            objectHeaders[keyPath: path] = value
        }
        if let types = environment.setting("MW_CONTENT_TYPES") {
            objectHeaders.contentTypes.merge(try ObjectHeaders.parseContentTypes(types)) { $1 }
        }
        tracing = try TracingSettings(environment: environment)
        hlsKeys = try HLSKeySettings(environment: environment)
        speechRecognition = try SpeechRecognitionSettings(environment: environment)
        defaultOutputURL = environment.setting("MW_DEFAULT_OUTPUT_URL")
        if let output = defaultOutputURL, !JobDecoder.isStorageURL(output) {
            throw ConfigurationError(variable: "MW_DEFAULT_OUTPUT_URL", reason: "expected s3://bucket/prefix/ or file:///path/")
        }
        lease = try Self.parseSeconds(environment.setting("MW_LEASE_S") ?? "30", variable: "MW_LEASE_S", range: 1...3600)
        maxStalls = try Self.parsePositive(environment.setting("MW_MAX_STALLS") ?? "2", variable: "MW_MAX_STALLS", max: 100)
        gracePeriod = try Self.parseSeconds(environment.setting("MW_GRACE_S") ?? "30", variable: "MW_GRACE_S", range: 0...86400)
        retryBase = try Self.parseSeconds(environment.setting("MW_RETRY_BASE_S") ?? "5", variable: "MW_RETRY_BASE_S", range: 0...86400)
        retryCap = try Self.parseSeconds(environment.setting("MW_RETRY_CAP_S") ?? "600", variable: "MW_RETRY_CAP_S", range: 0...7 * 86400)
        retention = try Self.parseSeconds(environment.setting("MW_RETENTION_S") ?? "86400", variable: "MW_RETENTION_S", range: 1...365 * 86400)
        eventsMaxLength = try Self.parsePositive(environment.setting("MW_EVENTS_MAXLEN") ?? "100000", variable: "MW_EVENTS_MAXLEN", max: 100_000_000)
        outputGrace = try Self.parseSeconds(environment.setting("MW_OUTPUT_GRACE_S") ?? "3600", variable: "MW_OUTPUT_GRACE_S", range: 0...30 * 86400)
        uploadConcurrency = try Self.parsePositive(environment.setting("MW_UPLOAD_CONCURRENCY") ?? "8", variable: "MW_UPLOAD_CONCURRENCY", max: 64)
        let splitMinimum = try Self.parseSeconds(environment.setting("MW_SPLIT_MIN_S") ?? "120", variable: "MW_SPLIT_MIN_S", range: 0...7 * 86400)
        splitMinimumSeconds = splitMinimum == .zero ? nil : splitMinimum.seconds
        guard let replicas = Int(environment.setting("MW_REDIS_WAIT_REPLICAS") ?? "0"), (0...16).contains(replicas) else {
            throw ConfigurationError(variable: "MW_REDIS_WAIT_REPLICAS", reason: "expected a number of replicas from 0 to 16")
        }
        waitReplicas = replicas
        waitTimeout = .milliseconds(try Self.parsePositive(environment.setting("MW_REDIS_WAIT_TIMEOUT_MS") ?? "1000", variable: "MW_REDIS_WAIT_TIMEOUT_MS", max: 60_000))
        webhooks = try WebhookSettings(environment: environment)
    }

    static func parseSeconds(_ text: String, variable: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Duration {
        guard let seconds = Double(text), range.contains(seconds) else {
            throw ConfigurationError(variable: variable, reason: "expected seconds from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// The queue settings these variables describe.
    public var queueOptions: QueueOptions {
        var options = QueueOptions()
        options.prefix = queuePrefix
        options.lease = lease
        options.maxStalls = maxStalls
        options.retention = retention
        options.eventsMaxLength = eventsMaxLength
        options.waitReplicas = waitReplicas
        options.waitTimeout = waitTimeout
        return options
    }

    /// `host:port`, `[v6]:port` or `:port` (all interfaces).
    static func parseAddress(_ text: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw ConfigurationError(variable: "MW_HTTP_ADDR", reason: "expected host:port, got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    static func parseQueues(_ text: String, variable: String) throws(ConfigurationError) -> [String] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ConfigurationError(variable: variable, reason: "name at least one queue") }
        for name in names where !name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
            throw ConfigurationError(variable: variable, reason: "queue name '\(name)' may use letters, digits, '-', '_' or '.'")
        }
        return names
    }

    static func parsePositive(_ text: String, variable: String, max: Int) throws(ConfigurationError) -> Int {
        guard let number = Int(text), number >= 1, number <= max else {
            throw ConfigurationError(variable: variable, reason: "expected a whole number from 1 to \(max), got '\(text)'")
        }
        return number
    }

    static func defaultWorkerID() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host)-\(getpid())-\(UInt32.random(in: 0...UInt32.max) & 0xffff)"
    }
}
