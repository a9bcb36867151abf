import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The Redis side of webhook deliveries, script by script: what is kept, for how long, and at
/// what cost, whatever happens to the queue's event stream meanwhile.
@Suite("Webhook ledger: deliveries own their bodies")
struct WebhookLedgerTests {
    let base = JobQueueTests()
    let url = "http://127.0.0.1:9/hooks"

    /// Appends events to the queue's stream as the scripts do (an `event` field of JSON).
    func append(_ queue: JobQueue, _ count: Int, type: String, maxLength: Int? = nil, from start: Int = 0) async throws {
        let trim = maxLength.map { ["MAXLEN", "~", String($0)] } ?? []
        let commands = (start..<(start + count)).map { index in
            ["XADD", queue.eventsKey] + trim + ["*", "event", #"{"event_id":"e\#(index)","type":"\#(type)","job_id":"j\#(index)","data":{}}"#]
        }
        for chunk in stride(from: 0, to: commands.count, by: 500) {
            _ = try await queue.client.pipeline(Array(commands[chunk..<min(chunk + 500, commands.count)]))
        }
    }

    /// A queue on a fresh Redis with this endpoint registered (its group made at the stream's end).
    func withLedger(_ body: (JobQueue, WebhookLedger) async throws -> Void) async throws {
        try await base.withQueue { queue, _ in
            let ledger = WebhookLedger(queue: queue, url: url)
            try await ledger.register(url: url)
            try await body(queue, ledger)
        }
    }

    func evalCalls(_ queue: JobQueue) async throws -> Int {
        let stats = try await queue.client.command(["INFO", "commandstats"]).string ?? ""
        guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
              let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first else { return 0 }
        return Int(calls) ?? 0
    }

    @Test("a batch read from the group is accepted in one script: skipped types acknowledged, the rest kept with their bodies")
    func acceptInOneScript() async throws {
        try await withLedger { queue, ledger in
            try await append(queue, 150, type: "JobProgress")
            try await append(queue, 10, type: "NoopCompleted", from: 150)
            let read = try await ledger.readNew(consumer: "w1", count: 500, block: .milliseconds(10))
            #expect(read.count == 160)
            let before = try await evalCalls(queue)
            let counts = try await ledger.accept(read, delivers: { $0 == "NoopCompleted" }, backlogCap: 1000)
            #expect(try await evalCalls(queue) - before == 1, "one script per batch, not one per event")
            #expect(counts.accepted == 10 && counts.skipped == 150 && counts.dropped == 0)
            let summary = try await ledger.summary()
            #expect(summary.unaccepted == 0 && summary.retrying == 10 && summary.outcomes["skipped"] == 150)
            // The stream is emptied: the deliveries keep their own bodies.
            try await queue.client.command(["XTRIM", queue.eventsKey, "MAXLEN", "0"])
            let (dues, _) = try await ledger.takeDue(max: 20, lease: .seconds(30))
            #expect(dues.count == 10)
            #expect(dues.allSatisfy { $0.json.contains("\"NoopCompleted\"") && $0.redelivery == 0 })
            let after = try await ledger.summary()
            #expect(after.inFlight == 10 && after.retrying == 0)
        }
    }

    @Test("a failed attempt keeps its body through any number of stream rollovers; a taker that dies lets it come due after its lease")
    func retryOutlivesTheStream() async throws {
        try await withLedger { queue, ledger in
            try await append(queue, 1, type: "NoopCompleted")
            let read = try await ledger.readNew(consumer: "w1", count: 10, block: .milliseconds(10))
            _ = try await ledger.accept(read, delivers: { _ in true }, backlogCap: 1000)
            var (dues, _) = try await ledger.takeDue(max: 20, lease: .seconds(30))
            var attempt = WebhookLedger.Attempt(due: dues[0], outcome: .retry, attempts: 1, firstAttemptMs: 1)
            attempt.retryIn = .milliseconds(1)
            try await ledger.record(attempt)
            try await append(queue, 2000, type: "JobProgress", maxLength: 100, from: 1)
            try await Task.sleep(for: .milliseconds(5))
            (dues, _) = try await ledger.takeDue(max: 20, lease: .milliseconds(1))
            #expect(dues.count == 1 && dues[0].attempts == 1 && dues[0].json.contains("\"e0\""))
            // Taken with a 1 ms lease and never recorded (its taker died): due again.
            try await Task.sleep(for: .milliseconds(5))
            let (again, _) = try await ledger.takeDue(max: 20, lease: .seconds(30))
            #expect(again.map(\.streamID) == dues.map(\.streamID) && again[0].json == dues[0].json)
            var done = WebhookLedger.Attempt(due: again[0], outcome: .delivered, attempts: 2, firstAttemptMs: 1)
            done.eventID = "e0"
            try await ledger.record(done)
            let summary = try await ledger.summary()
            #expect(summary.retrying == 0 && summary.inFlight == 0 && summary.outcomes["delivered"] == 1)
            #expect(try await queue.client.command(["HLEN", queue.keyBase + "webhook:" + ledger.endpoint + ":bodies"]).integer == 0)
        }
    }

    @Test("redelivery works from the log line after the stream and the delivery are gone, and is numbered")
    func redeliverFromTheLog() async throws {
        try await withLedger { queue, ledger in
            try await append(queue, 1, type: "NoopCompleted")
            _ = try await ledger.accept(try await ledger.readNew(consumer: "w1", count: 10, block: .milliseconds(10)),
                                        delivers: { _ in true }, backlogCap: 1000)
            let (dues, _) = try await ledger.takeDue(max: 20, lease: .seconds(30))
            var done = WebhookLedger.Attempt(due: dues[0], outcome: .delivered, attempts: 1, firstAttemptMs: 1)
            done.eventID = "e0"
            try await ledger.record(done)
            try await queue.client.command(["XTRIM", queue.eventsKey, "MAXLEN", "0"])
            let line = try #require(try await ledger.log(count: 10).first)
            #expect(try await ledger.redeliver(streamID: "1-1", logID: line.logID) == nil, "a log line names its own stream id")
            #expect(try await ledger.redeliver(streamID: dues[0].streamID, logID: line.logID) == 1)
            #expect(try await ledger.redeliver(streamID: dues[0].streamID, logID: line.logID) == 2)
            let (again, _) = try await ledger.takeDue(max: 20, lease: .seconds(30))
            #expect(again.count == 1 && again[0].redelivery == 2 && again[0].attempts == 0 && again[0].json == dues[0].json)
        }
    }

    @Test("past the backlog cap new deliveries are given up, logged with their bodies")
    func backlogCap() async throws {
        try await withLedger { queue, ledger in
            try await append(queue, 8, type: "NoopCompleted")
            let counts = try await ledger.accept(try await ledger.readNew(consumer: "w1", count: 10, block: .milliseconds(10)),
                                                 delivers: { _ in true }, backlogCap: 5)
            #expect(counts.accepted == 5 && counts.dropped == 3)
            let log = try await ledger.log(count: 10)
            #expect(log.count == 3 && log.allSatisfy { $0.fields["outcome"] == "gave_up" && ($0.fields["body"] ?? "").contains("NoopCompleted") })
            #expect(try await ledger.summary().outcomes["gave_up"] == 3)
        }
    }

    @Test("events the stream trims before any reader reads them are counted once as lost, and the lag is reported")
    func lostToTrimming() async throws {
        try await withLedger { queue, ledger in
            try await append(queue, 50, type: "NoopCompleted")
            #expect(try await ledger.checkLag() == (50, 0))
            _ = try await ledger.accept(try await ledger.readNew(consumer: "w1", count: 20, block: .milliseconds(10)),
                                        delivers: { _ in true }, backlogCap: 1000)
            // Nobody reads while 1,000 more are appended to a stream that keeps about 100.
            try await append(queue, 1000, type: "NoopCompleted", maxLength: 100, from: 50)
            let length = Int(try await queue.client.command(["XLEN", queue.eventsKey]).integer ?? 0)
            let (_, lost) = try await ledger.checkLag()
            #expect(lost == 1050 - 20 - length, "length \(length)")
            #expect(try await ledger.checkLag().newlyLost == 0, "counted once")
            #expect(try await ledger.summary().outcomes["lost"] == lost)
            #expect(try await ledger.log(count: 1).first?.fields["outcome"] == "lost")
            // Reading on: what is still in the stream is all delivered, nothing more is lost.
            var read = 0
            while true {
                let batch = try await ledger.readNew(consumer: "w1", count: 500, block: .milliseconds(10))
                if batch.isEmpty { break }
                read += batch.count
                _ = try await ledger.accept(batch, delivers: { _ in true }, backlogCap: 10_000)
            }
            #expect(read == length)
            #expect(try await ledger.checkLag() == (0, 0))
        }
    }
}
