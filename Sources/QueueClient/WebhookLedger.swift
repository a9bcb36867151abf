import Crypto
import Foundation
import RedisClient

/// One event the ledger hands to a deliverer: its place in the stream, the event JSON (the
/// delivery's own copy), and the attempts made so far.
public struct WebhookDue: Sendable, Equatable {
    public var streamID: String
    public var json: String
    public var attempts: Int
    /// When the first attempt was made (ms since 1970); the age limit counts from there.
    public var firstAttemptMs: Int64?
    /// 0, or the number of an operator's redelivery (marked in `webhook-id`).
    public var redelivery: Int

    public init(streamID: String, json: String, attempts: Int, firstAttemptMs: Int64? = nil, redelivery: Int = 0) {
        self.streamID = streamID
        self.json = json
        self.attempts = attempts
        self.firstAttemptMs = firstAttemptMs
        self.redelivery = redelivery
    }
}

/// What one delivery attempt led to.
public enum WebhookOutcome: String, Sendable, CaseIterable {
    case delivered, retry, disabled
    /// Given up: too old, the backlog was full, or no copy of the event was left.
    case gaveUp = "gave_up"
    /// Not an event this endpoint takes (`MW_WEBHOOK_EVENTS`): acknowledged, never sent.
    case skipped
    /// Trimmed from the queue's stream before any worker read it for this endpoint.
    case lost
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
        String(lowercaseHex(SHA256.hash(data: Array(url.utf8))).prefix(16))
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

    /// Accepts what was read from the group: every entry is acknowledged; the ones `delivers`
    /// wants are kept with their bodies, due now. One script per batch.
    public func accept(_ read: [WebhookDue], delivers: (String) -> Bool, backlogCap: Int,
                       logLength: Int = 10_000) async throws(RedisError) -> (accepted: Int, skipped: Int, dropped: Int) {
        guard !read.isEmpty else { return (0, 0, 0) }
        var arguments = [endpoint, String(backlogCap), String(logLength)]
        arguments.reserveCapacity(3 + read.count * 2)
        for due in read {
            arguments.append(due.streamID)
            arguments.append(delivers(Self.eventType(of: due.json)) ? due.json : "")
        }
        let counts = (try await queue.run(.webhookAccept, arguments).array ?? []).map { Int($0.integer ?? 0) }
        return (counts.first ?? 0, counts.count > 1 ? counts[1] : 0, counts.count > 2 ? counts[2] : 0)
    }

    /// The `type` of an event's JSON, read without parsing the whole body: the envelope is
    /// written by the queue's own scripts, `"type":"…"` first-level and unescaped.
    static func eventType(of json: String) -> String {
        guard let range = json.range(of: "\"type\":\"") else { return "" }
        let rest = json[range.upperBound...]
        guard let close = rest.firstIndex(of: "\"") else { return "" }
        return String(rest[..<close])
    }

    /// Due deliveries (new, retrying, or whose deliverer's lease ended), each held for `lease`;
    /// nothing while the endpoint is disabled. Also when the next one comes due (nil: none).
    public func takeDue(max: Int, lease: Duration) async throws(RedisError) -> (dues: [WebhookDue], nextDueMs: Int64?) {
        let items = try await queue.run(.webhookTake, [endpoint, String(max), String(lease.milliseconds)]).array ?? []
        let next = items.first?.integer.flatMap { $0 >= 0 ? Int64($0) : nil }
        var dues: [WebhookDue] = []
        let fields = items.dropFirst().map { $0.string ?? "" }
        for index in stride(from: 0, to: fields.count - 4, by: 5) {
            dues.append(WebhookDue(streamID: fields[index], json: fields[index + 4], attempts: Int(fields[index + 1]) ?? 0,
                                   firstAttemptMs: Int64(fields[index + 2]).flatMap { $0 > 0 ? $0 : nil },
                                   redelivery: Int(fields[index + 3]) ?? 0))
        }
        return (dues, next)
    }

    /// How far this endpoint's readers are behind the stream, and how many events the stream
    /// trimmed before they were read (recorded once, as `lost`, in the stats and the log).
    public func checkLag(logLength: Int = 10_000) async throws(RedisError) -> (lag: Int?, newlyLost: Int) {
        let replies = try await queue.client.pipeline([
            ["XINFO", "GROUPS", queue.eventsKey], ["XINFO", "STREAM", queue.eventsKey], ["GET", hookKey + ":lost"],
        ])
        guard let groups = replies[0].array, let stream = Self.map(replies[1]) else { return (nil, 0) }
        guard let mine = groups.compactMap(Self.map).first(where: { $0["name"]?.string == group }) else { return (nil, 0) }
        let countedLost = Int(replies[2].string ?? "") ?? 0
        // Redis counts the lag as entries added minus entries read, so the entries trimmed
        // unread stay in it for ever: what is left to read is that minus the lost ones.
        var lag = mine["lag"]?.integer.map { max(0, Int($0) - countedLost) }
        if mine["last-delivered-id"]?.string == stream["last-generated-id"]?.string { lag = 0 }
        // Loss happens only when the stream's first entry is past what the group read.
        guard let last = mine["last-delivered-id"]?.string.flatMap(StreamID.init),
              let first = stream["first-entry"]?.array?.first?.string.flatMap(StreamID.init), last < first,
              let added = stream["entries-added"]?.integer, let length = stream["length"]?.integer,
              let read = mine["entries-read"]?.integer else { return (lag, 0) }
        // Entries the group has not read minus those still in the stream (all after `last`).
        let lost = Int(added - read - length)
        guard lost > 0 else { return (lag, 0) }
        let increase = try await queue.run(.webhookLost, [endpoint, String(lost), String(logLength)]).integer ?? 0
        return (Int(length), Int(increase))
    }

    static func map(_ reply: RedisReply) -> [String: RedisReply]? {
        guard let items = reply.array else { return nil }
        var fields: [String: RedisReply] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let name = items[index].string { fields[name] = items[index + 1] }
        }
        return fields
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
        /// The entry was claimed from a dead reader and is gone: acknowledge it in the group.
        public var acknowledge = false

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
            attempt.eventID, attempt.eventType, attempt.url, String(logLength), String(attempt.due.redelivery),
            attempt.acknowledge ? "1" : "0",
        ])
    }

    public func isDisabled() async throws(RedisError) -> String? {
        try await queue.client.command(["GET", hookKey + ":disabled"]).string
    }

    /// Lets a disabled endpoint deliver again (its held events are due at once).
    public func enable() async throws(RedisError) {
        try await queue.client.command(["DEL", hookKey + ":disabled"])
    }

    /// Delivers an event again, marked as a redelivery. Its body comes from the waiting
    /// delivery, the log line `logID`, or the stream. Nil: no copy of the event is left.
    public func redeliver(streamID: String, logID: String = "") async throws(RedisError) -> Int? {
        let number = try await queue.run(.webhookRedeliver, [endpoint, streamID, logID]).integer ?? 0
        return number > 0 ? Int(number) : nil
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

    /// Counts by outcome, how many wait (new, retrying or held while disabled), how many are
    /// in flight, and how many were read from the group and not yet accepted.
    public func summary() async throws(RedisError) -> (outcomes: [String: Int], retrying: Int, inFlight: Int, unaccepted: Int) {
        let replies = try await queue.client.pipeline([
            ["HGETALL", hookKey + ":stats"], ["ZCARD", hookKey + ":retry"], ["ZCARD", hookKey + ":inflight"],
            ["XPENDING", queue.eventsKey, group],
        ])
        let items = (replies[0].array ?? []).map { $0.string ?? "" }
        var outcomes: [String: Int] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { outcomes[items[index]] = Int(items[index + 1]) ?? 0 }
        return (outcomes, Int(replies[1].integer ?? 0), Int(replies[2].integer ?? 0), Int(replies[3].array?.first?.integer ?? 0))
    }
}

/// A stream entry id, ordered as Redis orders them.
struct StreamID: Comparable {
    let milliseconds: UInt64
    let sequence: UInt64

    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        milliseconds = ms
        sequence = seq
    }

    static func < (a: StreamID, b: StreamID) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}
