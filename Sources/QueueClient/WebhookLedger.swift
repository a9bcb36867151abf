import Crypto
import Foundation

/// One event the ledger hands to a deliverer: its place in the stream, the event JSON, and the
/// attempts made so far.
public struct WebhookDue: Sendable, Equatable {
    public var streamID: String
    public var json: String
    public var attempts: Int
    /// When the first attempt was made (ms since 1970); the 24 h limit counts from there.
    public var firstAttemptMs: Int64?

    public init(streamID: String, json: String, attempts: Int, firstAttemptMs: Int64? = nil) {
        self.streamID = streamID
        self.json = json
        self.attempts = attempts
        self.firstAttemptMs = firstAttemptMs
    }
}

/// What one delivery attempt led to.
public enum WebhookOutcome: String, Sendable, CaseIterable {
    case delivered, retry, disabled
    /// Given up: too old, or the event left the stream before it could be delivered.
    case gaveUp = "gave_up"
    /// Not an event this endpoint takes (`MW_WEBHOOK_EVENTS`).
    case skipped
}

/// One line of an endpoint's delivery log.
public struct WebhookLogEntry: Sendable, Equatable {
    public var fields: [String: String]
    public var logID: String
}

/// The Redis side of one webhook endpoint on one queue: its consumer group on the queue's event
/// stream (new events, at least once across restarts), its retry set and attempts, its delivery
/// log and whether a 410 disabled it. All keys share the queue's hash tag.
public struct WebhookLedger: Sendable {
    public let queue: JobQueue
    /// A short digest of the endpoint's URL: stable across restarts, no secret in key names.
    public let endpoint: String

    public init(queue: JobQueue, url: String) {
        self.queue = queue
        self.endpoint = Self.endpointID(url: url)
    }

    public init(queue: JobQueue, endpoint: String) {
        self.queue = queue
        self.endpoint = endpoint
    }

    public static func endpointID(url: String) -> String {
        String(JobQueue.hex(SHA256.hash(data: Array(url.utf8))).prefix(16))
    }

    public var group: String { "webhook:" + endpoint }
    var hookKey: String { queue.keyBase + "webhook:" + endpoint }
    /// Every endpoint that has delivered on this queue: endpoint id → URL (for the dashboard).
    public static func registryKey(of queue: JobQueue) -> String { queue.keyBase + "webhooks" }

    /// Records the endpoint and makes its consumer group, which starts at the stream's end the
    /// first time: an endpoint gets the events from when it was configured on.
    public func register(url: String) async throws(RedisError) {
        try await queue.client.command(["HSET", Self.registryKey(of: queue), endpoint, url])
        do {
            try await queue.client.command(["XGROUP", "CREATE", queue.eventsKey, group, "$", "MKSTREAM"])
        } catch {
            guard case .server(let message) = error, message.hasPrefix("BUSYGROUP") else { throw error }
        }
    }

    /// Every endpoint registered on a queue: endpoint id → URL.
    public static func endpoints(of queue: JobQueue) async throws(RedisError) -> [String: String] {
        let items = (try await queue.client.command(["HGETALL", registryKey(of: queue)]).array ?? []).map { $0.string ?? "" }
        var endpoints: [String: String] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { endpoints[items[index]] = items[index + 1] }
        return endpoints
    }

    /// New events for this consumer, waiting up to `block` for some.
    public func readNew(consumer: String, count: Int, block: Duration) async throws(RedisError) -> [WebhookDue] {
        let reply = try await queue.client.blockingCommand(
            ["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "BLOCK", String(block.milliseconds),
             "STREAMS", queue.eventsKey, ">"], wait: block)
        return Self.dues(in: reply.array?.first?.array?.last?.array ?? [])
    }

    /// Deliveries another consumer took and never finished (it died): idle for `idle`, they are
    /// this consumer's now. Events trimmed from the stream meanwhile come back as ids only.
    public func claimAbandoned(consumer: String, idle: Duration, count: Int) async throws(RedisError) -> (dues: [WebhookDue], gone: [String]) {
        let reply = try await queue.client.command(
            ["XAUTOCLAIM", queue.eventsKey, group, consumer, String(idle.milliseconds), "0-0", "COUNT", String(count)])
        let parts = reply.array ?? []
        let entries = parts.count > 1 ? parts[1].array ?? [] : []
        let gone = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.string) : []
        return (Self.dues(in: entries), gone)
    }

    static func dues(in entries: [RedisReply]) -> [WebhookDue] {
        entries.compactMap { entry in
            guard let id = entry.array?.first?.string else { return nil }
            return WebhookDue(streamID: id, json: JobQueue.eventJSON(of: entry) ?? "", attempts: 0, firstAttemptMs: nil)
        }
    }

    /// Due retries, each held for `lease`; nothing while the endpoint is disabled. An event the
    /// stream no longer holds comes back with empty JSON.
    public func takeDue(max: Int, lease: Duration) async throws(RedisError) -> [WebhookDue] {
        let fields = (try await queue.run(.webhookTake, [endpoint, String(max), String(lease.milliseconds)]).array ?? []).map { $0.string ?? "" }
        var dues: [WebhookDue] = []
        for index in stride(from: 0, to: fields.count - 2, by: 3) {
            dues.append(WebhookDue(streamID: fields[index], json: "", attempts: Int(fields[index + 1]) ?? 0,
                                   firstAttemptMs: Int64(fields[index + 2]).flatMap { $0 > 0 ? $0 : nil }))
        }
        guard !dues.isEmpty else { return [] }
        let replies = try await queue.client.pipeline(dues.map { ["XRANGE", queue.eventsKey, $0.streamID, $0.streamID] })
        for (index, reply) in replies.enumerated() {
            if let entry = reply.array?.first { dues[index].json = JobQueue.eventJSON(of: entry) ?? "" }
        }
        return dues
    }

    /// One attempt and its consequence, with its log line, in one step.
    public struct Attempt: Sendable {
        public var due: WebhookDue
        public var outcome: WebhookOutcome
        public var retryIn: Duration = .zero
        public var attempts: Int
        public var firstAttemptMs: Int64
        public var status: Int = 0
        public var latency: Duration = .zero
        public var error: String = ""
        public var eventID: String = ""
        public var eventType: String = ""
        public var url: String = ""

        public init(due: WebhookDue, outcome: WebhookOutcome, attempts: Int, firstAttemptMs: Int64) {
            self.due = due
            self.outcome = outcome
            self.attempts = attempts
            self.firstAttemptMs = firstAttemptMs
        }
    }

    public func record(_ attempt: Attempt, logLength: Int = 10_000) async throws(RedisError) {
        _ = try await queue.run(.webhookRecord, [
            endpoint, attempt.due.streamID, attempt.outcome.rawValue, String(attempt.retryIn.milliseconds), String(attempt.attempts),
            String(attempt.firstAttemptMs), String(attempt.status), String(attempt.latency.milliseconds), attempt.error,
            attempt.eventID, attempt.eventType, attempt.url, String(logLength),
        ])
    }

    public func isDisabled() async throws(RedisError) -> String? {
        try await queue.client.command(["GET", hookKey + ":disabled"]).string
    }

    /// Lets a disabled endpoint deliver again (its held events are due at once).
    public func enable() async throws(RedisError) {
        try await queue.client.command(["DEL", hookKey + ":disabled"])
    }

    /// Delivers an event again. False: the stream no longer holds it.
    public func redeliver(streamID: String) async throws(RedisError) -> Bool {
        try await queue.run(.webhookRedeliver, [endpoint, streamID]).integer == 1
    }

    /// The newest log lines, newest first.
    public func log(count: Int) async throws(RedisError) -> [WebhookLogEntry] {
        let reply = try await queue.client.command(["XREVRANGE", hookKey + ":log", "+", "-", "COUNT", String(count)])
        return (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { return nil }
            let items = (parts[1].array ?? []).map { $0.string ?? "" }
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: items.count - 1, by: 2) { fields[items[index]] = items[index + 1] }
            return WebhookLogEntry(fields: fields, logID: id)
        }
    }

    /// Counts by outcome, how many wait for a retry, and how many are in flight.
    public func summary() async throws(RedisError) -> (outcomes: [String: Int], retrying: Int, inFlight: Int) {
        let replies = try await queue.client.pipeline([
            ["HGETALL", hookKey + ":stats"], ["ZCARD", hookKey + ":retry"], ["XPENDING", queue.eventsKey, group],
        ])
        let items = (replies[0].array ?? []).map { $0.string ?? "" }
        var outcomes: [String: Int] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { outcomes[items[index]] = Int(items[index + 1]) ?? 0 }
        return (outcomes, Int(replies[1].integer ?? 0), Int(replies[2].array?.first?.integer ?? 0))
    }
}
