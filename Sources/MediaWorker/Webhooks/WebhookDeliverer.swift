import AsyncHTTPClient
import Foundation
import JobContract
import Logging
import Metrics
import NIOCore
import QueueClient
import RedisClient
import ServiceLifecycle
import Synchronization

/// Delivers each queue's events to every configured endpoint. Per queue and endpoint, two
/// loops: a reader that drains the endpoint's consumer group on the queue's stream as fast as
/// events come (every worker of the pool is a consumer) and accepts them into the endpoint's own
/// keys with their bodies, whatever the endpoint's health; and a sender that POSTs what is due
/// (new, retrying, or left by a dead worker), up to 20 at a time. The stream can then roll over
/// (`MW_EVENTS_MAXLEN`) without taking a waiting delivery with it; the reader watches the
/// group's lag and records events trimmed before anyone read them.
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
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        // An endpoint that refuses connections fails the attempt at once (it is retried on the
        // webhook schedule) instead of holding it in the pool's back-off until the timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .milliseconds(settings.timeout.milliseconds)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
        // Two connections: the reader's blocking read must not hold the sender's commands back.
        let readerClient = RedisClient(url: redisURL), senderClient = RedisClient(url: redisURL)
        let readerLedger = WebhookLedger(queue: JobQueue(name: queueName, options: queueOptions, client: readerClient, actor: workerID), url: url)
        let ledger = WebhookLedger(queue: JobQueue(name: queueName, options: queueOptions, client: senderClient, actor: workerID), url: url)
        var endpointLogger = logger
        endpointLogger[metadataKey: "queue"] = "\(queueName)"
        endpointLogger[metadataKey: "webhook"] = "\(ledger.endpoint)"
        let endpoint = EndpointDelivery(settings: settings, url: url, ledger: ledger, http: http, logger: endpointLogger)
        // The reader wakes the sender when it accepted something, so a new event goes out at once.
        let accepted = Doorbell()
        let scoped = endpointLogger
        await withDiscardingTaskGroup { group in
            group.addTask { await read(ledger: readerLedger, endpoint: endpoint, accepted: accepted, logger: scoped) }
            group.addTask { await send(ledger: ledger, endpoint: endpoint, accepted: accepted, logger: scoped) }
        }
        await readerClient.close()
        await senderClient.close()
    }

    private var running: Bool { !Task.isCancelled && !Task.isShuttingDownGracefully }

    /// Drains the consumer group into the endpoint's deliveries; takes over what a dead reader
    /// read and never accepted; watches the lag.
    private func read(ledger: WebhookLedger, endpoint: EndpointDelivery, accepted: Doorbell, logger: Logger) async {
        var registered = false
        var lastCheck = ContinuousClock.now - .seconds(3600)
        let lagGauge = Gauge(label: "mw_webhook_lag_events", dimensions: [("queue", ledger.queue.name), ("endpoint", ledger.endpoint)])
        while running {
            do {
                if !registered {
                    try await ledger.register(url: endpoint.url)
                    registered = true
                }
                if ContinuousClock.now - lastCheck > .seconds(5) {
                    lastCheck = .now
                    let (abandoned, gone) = try await ledger.claimAbandoned(consumer: workerID, idle: settings.abandonedAfter, count: 200)
                    if try await accept(abandoned, ledger: ledger, logger: logger) > 0 { accepted.ring() }
                    for id in gone { try await endpoint.recordGone(streamID: id) }
                    try await watchLag(ledger: ledger, gauge: lagGauge, logger: logger)
                }
                let read = try await ledger.readNew(consumer: workerID, count: 500, block: .seconds(1))
                if try await accept(read, ledger: ledger, logger: logger) > 0 { accepted.ring() }
            } catch {
                // A Redis that lost its data (restarted without persistence) lost the group too.
                if "\(error)".contains("NOGROUP") { registered = false }
                logger.warning("webhook reader: redis failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func accept(_ read: [WebhookDue], ledger: WebhookLedger, logger: Logger) async throws(RedisError) -> Int {
        guard !read.isEmpty else { return 0 }
        let counts = try await ledger.accept(read, delivers: settings.delivers, backlogCap: settings.backlogCap)
        if counts.dropped > 0 {
            Counter(label: "mw_webhook_deliveries_total", dimensions: [("outcome", WebhookOutcome.gaveUp.rawValue)]).increment(by: counts.dropped)
            logger.error("webhook backlog full: events given up", metadata: [
                "dropped": "\(counts.dropped)", "backlog_max": "\(settings.backlogCap)",
            ])
        }
        if counts.skipped > 0 {
            Counter(label: "mw_webhook_deliveries_total", dimensions: [("outcome", WebhookOutcome.skipped.rawValue)]).increment(by: counts.skipped)
        }
        return counts.accepted
    }

    /// Warns while the readers are more than half the stream behind (events are about to be
    /// trimmed unread), and records those that were.
    private func watchLag(ledger: WebhookLedger, gauge: Gauge, logger: Logger) async throws(RedisError) {
        let (lag, lost) = try await ledger.checkLag()
        if let lag {
            gauge.record(lag)
            if lag > queueOptions.eventsMaxLength / 2 {
                logger.warning("webhook reader falls behind the event stream", metadata: [
                    "lag": "\(lag)", "events_maxlen": "\(queueOptions.eventsMaxLength)",
                ])
            }
        }
        if lost > 0 {
            Counter(label: "mw_webhook_deliveries_total", dimensions: [("outcome", WebhookOutcome.lost.rawValue)]).increment(by: lost)
            logger.error("webhook events lost: the stream trimmed them before any worker read them", metadata: [
                "lost": "\(lost)", "events_maxlen": "\(queueOptions.eventsMaxLength)",
            ])
        }
    }

    /// POSTs what is due, up to 20 at once: as soon as one attempt ends another may start, so one
    /// slow answer holds back nothing. Between takes it sleeps until the next delivery comes
    /// due, the reader accepts something, an attempt ends, or a second has passed (another
    /// worker's reader may have accepted; an operator may have enabled the endpoint).
    private func send(ledger: WebhookLedger, endpoint: EndpointDelivery, accepted: Doorbell, logger: Logger) async {
        // Another worker takes a delivery over when its lease ends: never while an attempt can
        // still be answered.
        let lease = max(settings.abandonedAfter, settings.timeout + .seconds(5))
        let inFlight = InFlightCount()
        await withDiscardingTaskGroup { group in
            while running {
                var pause = Duration.seconds(1)
                let room = EndpointDelivery.window - inFlight.current
                if room > 0 {
                    do {
                        let (dues, nextDueMs) = try await ledger.takeDue(max: room, lease: lease)
                        for due in dues {
                            inFlight.add(1)
                            group.addTask {
                                await endpoint.deliverRecording(due)
                                inFlight.add(-1)
                                accepted.ring()
                            }
                        }
                        if !dues.isEmpty { continue }
                        if let nextDueMs {
                            let untilDue = Duration.milliseconds(max(0, nextDueMs - Int64(Date().timeIntervalSince1970 * 1000)) + 5)
                            pause = min(pause, untilDue)
                        }
                    } catch {
                        logger.warning("webhook sender: redis failed", metadata: ["error": "\(error)"])
                    }
                }
                await accepted.wait(upTo: pause)
            }
        }
    }
}

/// Deliveries of one endpoint in flight in this process.
final class InFlightCount: Sendable {
    private let count = Atomic<Int>(0)
    var current: Int { count.load(ordering: .relaxed) }
    func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
}

/// One attempt at one endpoint: POST, read the answer, record what follows in Redis.
struct EndpointDelivery: Sendable {
    let settings: WebhookSettings
    let url: String
    let ledger: WebhookLedger
    let http: HTTPClient
    let logger: Logger

    /// Deliveries in flight at once per worker, queue and endpoint.
    static let window = 20

    /// One delivery; when its outcome cannot be recorded (Redis failed) it comes due again when
    /// its lease ends.
    func deliverRecording(_ due: WebhookDue) async {
        do {
            try await deliver(due)
        } catch {
            logger.warning("webhook outcome not recorded: the delivery comes due again after its lease", metadata: [
                "stream_id": "\(due.streamID)", "error": "\(error)",
            ])
        }
    }

    /// An entry a dead reader read and never accepted, which the stream no longer holds.
    func recordGone(streamID: String) async throws(RedisError) {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var attempt = WebhookLedger.Attempt(due: WebhookDue(streamID: streamID, json: "", attempts: 0), outcome: .gaveUp, attempts: 0, firstAttemptMs: nowMs)
        attempt.url = url
        attempt.acknowledge = true
        attempt.error = "the event left the stream before it was accepted"
        logger.error("webhook event lost: it left the stream before it was accepted", metadata: ["stream_id": "\(streamID)"])
        try await ledger.record(attempt)
    }

    /// The `webhook-id` of a delivery: the event's id on every attempt (receivers deduplicate on
    /// it), and a distinct one for each redelivery an operator asks for, so that it does arrive.
    static func webhookID(eventID: String, redelivery: Int) -> String {
        redelivery > 0 ? "\(eventID).redelivery-\(redelivery)" : eventID
    }

    func deliver(_ due: WebhookDue) async throws(RedisError) {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var attempt = WebhookLedger.Attempt(due: due, outcome: .gaveUp, attempts: due.attempts + 1, firstAttemptMs: due.firstAttemptMs ?? nowMs)
        attempt.url = url
        guard !due.json.isEmpty, case .object(let event)? = try? JSONValue.parse(due.json) else {
            attempt.error = "no copy of the event is left (accepted before deliveries kept their bodies, then trimmed)"
            attempt.attempts = due.attempts
            logger.error("webhook event gone", metadata: ["stream_id": "\(due.streamID)"])
            try await ledger.record(attempt)
            return
        }
        attempt.eventID = event["event_id"]?.stringValue ?? due.streamID
        attempt.eventType = event["type"]?.stringValue ?? ""
        let body = Array(due.json.utf8)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "media-worker/\(MediaWorkerVersion.current)")
        let webhookID = Self.webhookID(eventID: attempt.eventID, redelivery: due.redelivery)
        for (name, value) in settings.signer.headers(id: webhookID, timestamp: Int64(Date().timeIntervalSince1970), body: body) {
            request.headers.add(name: name, value: value)
        }
        if due.redelivery > 0 { request.headers.add(name: "webhook-redelivery", value: String(due.redelivery)) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        var retryAfter: Duration?
        do {
            let (status, retryAfterText) = try await post(request)
            attempt.status = status
            retryAfter = retryAfterText.flatMap(Self.parseRetryAfter)
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

    /// One POST within `MW_WEBHOOK_TIMEOUT_S`, connection to last byte, enforced here: a request
    /// waiting in the client's pool for a connection to a host that refuses them would
    /// otherwise wait out the pool's back-off, well past its deadline.
    func post(_ request: HTTPClientRequest) async throws -> (status: Int, retryAfter: String?) {
        let limit = settings.timeout
        let http = http
        let answer = FirstAnswer<(status: Int, retryAfter: String?)>()
        return try await withCheckedThrowingContinuation { continuation in
            answer.set(continuation)
            // Not awaited: a request the pool does not let go of on cancellation must not hold
            // the delivery past its limit (it ends on its own when the pool gives up).
            let work = Task {
                do {
                    let response = try await http.execute(request, timeout: .milliseconds(limit.milliseconds))
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    answer.resume(with: .success((Int(response.status.code), response.headers.first(name: "retry-after"))))
                } catch {
                    answer.resume(with: .failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: limit)
                work.cancel()
                answer.resume(with: .failure(WebhookTimeout(limit: limit)))
            }
        }
    }

    struct WebhookTimeout: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "no answer within \(limit) (MW_WEBHOOK_TIMEOUT_S)" }
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
