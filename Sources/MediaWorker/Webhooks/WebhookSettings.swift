import Foundation

/// Webhook endpoints and how deliveries to them are made, from the environment. Endpoints are
/// the operator's (`MW_WEBHOOK_URLS`): a job never names one.
public struct WebhookSettings: Sendable {
    /// The terminal events: one per job (its outcome), and `JobFailed` for an invalid payload.
    public static let terminalEvents: Set<String> = Set(
        ["Transcode", "Thumbnails", "Keyframes", "Compose", "Probe", "Noop"].flatMap { name in
            ["Completed", "Failed", "Canceled"].map { name + $0 }
        } + ["JobFailed"])

    public var urls: [String]
    /// Event types delivered; nil: every type (`MW_WEBHOOK_EVENTS=*`).
    public var events: Set<String>?
    public var signer: WebhookSigner
    /// First retry after about this long, doubling each time up to `retryCap`, with jitter.
    public var retryBase: Duration = .seconds(5)
    public var retryCap: Duration = .seconds(3600)
    /// Attempts stop this long after the first one.
    public var maxAge: Duration = .seconds(24 * 3600)
    /// One attempt's limit, connection to last byte of the answer.
    public var timeout: Duration = .seconds(10)
    /// A delivery another deliverer took and did not finish is taken over after this long.
    public var abandonedAfter: Duration = .seconds(60)
    /// Deliveries that may wait per queue and endpoint (new, retrying, held while disabled);
    /// beyond it, new events for the endpoint are given up and logged.
    public var backlogCap: Int = 1_000_000

    public init(urls: [String], events: Set<String>? = WebhookSettings.terminalEvents, signer: WebhookSigner) {
        self.urls = urls
        self.events = events
        self.signer = signer
    }

    public func delivers(_ eventType: String) -> Bool { events?.contains(eventType) ?? true }

    /// nil when `MW_WEBHOOK_URLS` is unset.
    public init?(environment: [String: String]) throws(ConfigurationError) {
        guard let list = environment.setting("MW_WEBHOOK_URLS") else { return nil }
        let urls = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for url in urls {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError(variable: "MW_WEBHOOK_URLS", reason: "'\(url)' is not an http(s) URL")
            }
        }
        guard let secrets = environment.setting("MW_WEBHOOK_SECRET") else {
            throw ConfigurationError(variable: "MW_WEBHOOK_SECRET", reason: "webhooks are signed: set one or more whsec_… secrets")
        }
        do {
            self.signer = try WebhookSigner(secrets: secrets)
        } catch {
            throw ConfigurationError(variable: "MW_WEBHOOK_SECRET", reason: error.description)
        }
        self.urls = urls
        let filter = environment.setting("MW_WEBHOOK_EVENTS").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        self.events = filter.map { $0.contains("*") ? nil : Set($0) } ?? Self.terminalEvents
        retryBase = try WorkerConfiguration.parseSeconds(environment.setting("MW_WEBHOOK_RETRY_BASE_S") ?? "5", variable: "MW_WEBHOOK_RETRY_BASE_S", range: 0.01...3600)
        retryCap = try WorkerConfiguration.parseSeconds(environment.setting("MW_WEBHOOK_RETRY_CAP_S") ?? "3600", variable: "MW_WEBHOOK_RETRY_CAP_S", range: 0.01...86400)
        maxAge = try WorkerConfiguration.parseSeconds(environment.setting("MW_WEBHOOK_MAX_AGE_S") ?? "86400", variable: "MW_WEBHOOK_MAX_AGE_S", range: 1...7 * 86400)
        timeout = try WorkerConfiguration.parseSeconds(environment.setting("MW_WEBHOOK_TIMEOUT_S") ?? "10", variable: "MW_WEBHOOK_TIMEOUT_S", range: 0.1...300)
        backlogCap = try WorkerConfiguration.parsePositive(environment.setting("MW_WEBHOOK_BACKLOG_MAX") ?? "1000000", variable: "MW_WEBHOOK_BACKLOG_MAX", max: 100_000_000)
        abandonedAfter = try WorkerConfiguration.parseSeconds(environment.setting("MW_WEBHOOK_TAKEOVER_S") ?? "60", variable: "MW_WEBHOOK_TAKEOVER_S", range: 1...3600)
    }

    /// The wait before attempt `attempts + 1`: exponential, capped, with jitter between half and
    /// all of it (deliverers that failed together don't retry together); a `Retry-After` longer
    /// than that wins.
    public func retryDelay(afterAttempts attempts: Int, retryAfter: Duration?) -> Duration {
        let exponent = min(max(attempts - 1, 0), 30)
        let full = min(retryBase * (1 << exponent), retryCap)
        let jittered = full * Double.random(in: 0.5...1.0)
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, maxAge))
    }
}
