import AsyncHTTPClient
import Foundation
import JobContract
import Logging
import Metrics
import NIOCore
import QueueClient
import ServiceLifecycle

/// Delivers each queue's events to every configured endpoint: one loop per queue and endpoint,
/// reading new events through the endpoint's consumer group (every worker of the pool is a
/// consumer: an event goes to one of them), retrying failed deliveries from the endpoint's
/// retry set, and taking over deliveries a dead worker left in flight. At least once: an event
/// leaves the group's pending list only when its outcome is recorded.
public struct WebhookDeliverer: Service {
    let settings: WebhookSettings
    let redisURL: RedisURL
    let queueNames: [String]
    let queueOptions: QueueOptions
    let workerID: String
    let logger: Logger

    public init(settings: WebhookSettings, redisURL: RedisURL, queueNames: [String], queueOptions: QueueOptions, workerID: String, logger: Logger) {
        self.settings = settings
        self.redisURL = redisURL
        self.queueNames = queueNames
        self.queueOptions = queueOptions
        self.workerID = workerID
        self.logger = logger
    }

    public func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        await withDiscardingTaskGroup { group in
            for name in queueNames {
                for url in settings.urls {
                    group.addTask { await runEndpoint(url: url, queueName: name, http: http) }
                }
            }
        }
        try? await http.shutdown()
    }

    private func runEndpoint(url: String, queueName: String, http: HTTPClient) async {
        let client = RedisClient(url: redisURL)
        let queue = JobQueue(name: queueName, options: queueOptions, client: client, actor: workerID)
        let ledger = WebhookLedger(queue: queue, url: url)
        var endpointLogger = logger
        endpointLogger[metadataKey: "queue"] = "\(queueName)"
        endpointLogger[metadataKey: "webhook"] = "\(ledger.endpoint)"
        let endpoint = EndpointDelivery(settings: settings, url: url, ledger: ledger, http: http, logger: endpointLogger)
        var registered = false
        var lastTakeover = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if !registered {
                    try await ledger.register(url: url)
                    registered = true
                }
                if try await ledger.isDisabled() != nil {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                if ContinuousClock.now - lastTakeover > .seconds(5) {
                    lastTakeover = .now
                    let (abandoned, gone) = try await ledger.claimAbandoned(consumer: workerID, idle: settings.abandonedAfter, count: 50)
                    try await endpoint.deliver(gone.map { WebhookDue(streamID: $0, json: "", attempts: 0) } + abandoned)
                }
                try await endpoint.deliver(try await ledger.takeDue(max: 20, lease: settings.timeout * 2 + .seconds(5)))
                try await endpoint.deliver(try await ledger.readNew(consumer: workerID, count: 20, block: .seconds(1)))
            } catch {
                // A Redis that lost its data (restarted without persistence) lost the group too.
                if "\(error)".contains("NOGROUP") { registered = false }
                logger.warning("webhook loop: redis failed", metadata: ["queue": "\(queueName)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await client.close()
    }
}

/// One attempt at one endpoint: POST, read the answer, record what follows in Redis.
struct EndpointDelivery: Sendable {
    let settings: WebhookSettings
    let url: String
    let ledger: WebhookLedger
    let http: HTTPClient
    let logger: Logger

    /// A batch at once (up to 20 in flight): one slow answer does not hold back the others.
    func deliver(_ batch: [WebhookDue]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for due in batch { group.addTask { try await deliver(due) } }
            try await group.waitForAll()
        }
    }

    func deliver(_ due: WebhookDue) async throws(RedisError) {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var attempt = WebhookLedger.Attempt(due: due, outcome: .gaveUp, attempts: due.attempts + 1, firstAttemptMs: due.firstAttemptMs ?? nowMs)
        attempt.url = url
        guard !due.json.isEmpty, case .object(let event)? = try? JSONValue.parse(due.json) else {
            attempt.error = "the event left the stream before it was delivered"
            attempt.attempts = due.attempts
            logger.warning("webhook event gone", metadata: ["stream_id": "\(due.streamID)"])
            try await ledger.record(attempt)
            return
        }
        attempt.eventID = event["event_id"]?.stringValue ?? due.streamID
        attempt.eventType = event["type"]?.stringValue ?? ""
        guard settings.delivers(attempt.eventType) else {
            attempt.outcome = .skipped
            attempt.attempts = due.attempts
            try await ledger.record(attempt)
            return
        }
        let body = Array(due.json.utf8)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "media-worker/\(MediaWorkerVersion.current)")
        for (name, value) in settings.signer.headers(id: attempt.eventID, timestamp: Int64(Date().timeIntervalSince1970), body: body) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        var retryAfter: Duration?
        do {
            let response = try await http.execute(request, timeout: .milliseconds(settings.timeout.milliseconds))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            attempt.status = Int(response.status.code)
            retryAfter = response.headers.first(name: "retry-after").flatMap(Self.parseRetryAfter)
        } catch {
            attempt.error = "\(error)"
        }
        attempt.latency = ContinuousClock.now - started
        switch attempt.status {
        case 200..<300:
            attempt.outcome = .delivered
        case 410:
            attempt.outcome = .disabled
            logger.warning("webhook endpoint answered 410 Gone: disabled until an operator enables it", metadata: ["url": "\(url)"])
        default:
            let age = Duration.milliseconds(nowMs - attempt.firstAttemptMs)
            let delay = settings.retryDelay(afterAttempts: attempt.attempts, retryAfter: retryAfter)
            if age + delay > settings.maxAge {
                attempt.outcome = .gaveUp
                logger.error("webhook delivery given up", metadata: [
                    "event_id": "\(attempt.eventID)", "attempts": "\(attempt.attempts)", "status": "\(attempt.status)", "error": "\(attempt.error)",
                ])
            } else {
                attempt.outcome = .retry
                attempt.retryIn = delay
            }
        }
        Counter(label: "mw_webhook_deliveries_total", dimensions: [("outcome", attempt.outcome.rawValue)]).increment()
        if attempt.outcome != .delivered {
            logger.notice("webhook delivery failed", metadata: [
                "event_id": "\(attempt.eventID)", "attempt": "\(attempt.attempts)", "status": "\(attempt.status)",
                "outcome": "\(attempt.outcome.rawValue)", "retry_in_ms": "\(attempt.retryIn.milliseconds)", "error": "\(attempt.error)",
            ])
        }
        try await ledger.record(attempt)
    }

    /// `Retry-After`: seconds, or an HTTP date.
    static func parseRetryAfter(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(max(0, Int64(date.timeIntervalSinceNow * 1000)))
    }
}
