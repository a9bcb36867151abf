import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// What the dashboard reads: pages by state, search indexes, a job's own events, per-minute
/// history, and the dead-letter delete, against a real redis-server.
@Suite("Queue browsing for operators")
struct QueueBrowsingTests {
    func withQueue(_ body: (JobQueue) async throws -> Void) async throws {
        try await RedisServer.with { server in
            let client = RedisClient(url: try RedisURL(parsing: server.url))
            try await body(JobQueue(name: "q", client: client, actor: "w"))
            await client.close()
        }
    }

    func add(_ queue: JobQueue, _ jobs: [NewJob]) async throws {
        try await queue.client.command(["RPUSH", queue.inboxKey, "{}"])
        let claimed = try await queue.claim(max: 1, worker: "w")
        _ = try await queue.ingest(.jobs(jobs), item: claimed[0], worker: "w")
    }

    /// Runs every waiting job to its end: completed, or dead when its id starts with "bad".
    func runAll(_ queue: JobQueue) async throws {
        while true {
            let fetched = try await queue.fetch(max: 50)
            guard !fetched.deliveries.isEmpty else { return }
            for delivery in fetched.deliveries {
                if delivery.id.hasPrefix("bad") {
                    _ = try await queue.fail(id: delivery.id, token: delivery.token, code: "DRILL", message: "m", retryable: false, retryDelay: .zero)
                } else {
                    _ = try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}")
                }
            }
        }
    }

    @Test("pages by state, newest finished first, with totals; waiting in the order fetch takes them")
    func paging() async throws {
        try await withQueue { queue in
            try await add(queue, (0..<120).map { NewJob(id: String(format: "j%03d", $0), type: "noop", payload: "{}") })
            let waiting = try await queue.page(.waiting, offset: 100, limit: 50)
            #expect(waiting.total == 120 && waiting.ids == (100..<120).map { String(format: "j%03d", $0) })
            try await runAll(queue)
            let first = try await queue.page(.completed, offset: 0, limit: 50)
            let last = try await queue.page(.completed, offset: 100, limit: 50)
            #expect(first.total == 120 && first.ids.count == 50 && last.ids.count == 20)
            #expect(Set(first.ids + last.ids).count == 70)
            #expect(try await queue.page(.waiting, offset: 0, limit: 50).total == 0)
            let rows = try await queue.summaries(["j007", "missing"])
            #expect(rows.map(\.id) == ["j007"] && rows[0].fields["state"] == "completed")
        }
    }

    @Test("a new job's hash leaves out the fields at their first value and keeps no lease; the record read back has them all")
    func recordDefaults() async throws {
        try await withQueue { queue in
            var job = NewJob(id: "j1", type: "noop", payload: "{}")
            job.maxAttempts = 3
            try await add(queue, [job])
            func stored() async throws -> [String: String] {
                let items = (try await queue.client.command(["HGETALL", queue.keyBase + "job:j1"]).array ?? []).compactMap(\.string)
                return Dictionary(uniqueKeysWithValues: stride(from: 0, to: items.count - 1, by: 2).map { (items[$0], items[$0 + 1]) })
            }
            // Each field is a step of Redis's linear search in a small hash, at every transition.
            let left = ["id", "queue", "stalls", "history", "cancel", "worker", "lease_until", "token", "allowance", "run_at"]
            let raw = try await stored()
            #expect(left.filter { raw[$0] != nil }.isEmpty, "\(raw.keys.sorted())")
            var record = try #require(try await queue.record(id: "j1"))
            #expect(record.fields["id"] == "j1" && record.fields["queue"] == "q" && record.fields["stalls"] == "0")
            #expect(record.fields["history"] == "[]" && record.fields["cancel"] == "0" && record.fields["worker"] == "")
            #expect(record.fields["lease_until"] == "0" && record.fields["token"] == "0" && record.fields["allowance"] == "3")
            #expect(record.fields["run_at"] == record.fields["created_at"])

            // Running: the lease is the job's score in the active set, moved by a heartbeat alone.
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            let active = queue.keyBase + "active"
            let leased = try #require(try await queue.client.command(["ZSCORE", active, "j1"]).string)
            record = try #require(try await queue.record(id: "j1"))
            #expect(record.fields["lease_until"] == leased && record.fields["worker"] == "w")
            let storedActive = try await stored()
            #expect(storedActive["lease_until"] == nil)
            try await queue.client.command(["ZADD", active, "XX", "1", "j1"])
            let beat = try await queue.heartbeat([(delivery.id, delivery.token)])
            #expect(beat == [.held])
            let extended = try #require(try await queue.client.command(["ZSCORE", active, "j1"]).string)
            let afterBeat = try await queue.record(id: "j1")
            #expect((Int64(extended) ?? 0) > 1 && afterBeat?.fields["lease_until"] == extended)

            let completed = try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}")
            #expect(completed)
            record = try #require(try await queue.record(id: "j1"))
            #expect(record.fields["state"] == "completed" && record.fields["lease_until"] == "0" && record.fields["id"] == "j1")
        }
    }

    @Test("search by job id, file_id, movie id given by the producer and movie id read from the object")
    func search() async throws {
        try await withQueue { queue in
            try await add(queue, [
                NewJob(id: "a", type: "transcode", payload: "{}", fileID: "file-1", movieID: "movie-1"),
                NewJob(id: "b", type: "transcode", payload: "{}", fileID: "file-1"),
                NewJob(id: "c", type: "transcode", payload: "{}", fileID: "file-2"),
            ])
            #expect(try await queue.search("file-1") == ["b", "a"])
            #expect(try await queue.search("movie-1") == ["a"])
            #expect(try await queue.search("c") == ["c"])
            #expect(try await queue.search("nothing").isEmpty)
            // The worker learns the movie from the object's metadata (annotate): found by it too.
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.annotate(id: delivery.id, token: delivery.token, fields: ["meta_movie_id": "movie-9"]))
            #expect(try await queue.search("movie-9") == [delivery.id])
        }
    }

    @Test("a job's events come back in order from its record, without scanning the stream")
    func eventsOfOneJob() async throws {
        try await withQueue { queue in
            try await add(queue, [NewJob(id: "x", type: "noop", payload: "{}"), NewJob(id: "y", type: "noop", payload: "{}")])
            // Progress events are in the stream but not in the job's list (its record holds the latest).
            let running = try await queue.fetch(max: 1).deliveries
            for delivery in running {
                for step in 1...3 { #expect(try await queue.progress(id: delivery.id, token: delivery.token, json: #"{"percent":\#(step * 10)}"#)) }
                _ = try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}")
            }
            try await runAll(queue)
            let types = try await queue.events(of: "x").compactMap { try? JSONValue.parse($0.json)["type"]?.stringValue }
            #expect(types == ["JobQueued", "JobStarted", "NoopCompleted"])
            let after = try await queue.events(after: "0", count: 100)
            #expect(after.contains { $0.json.contains(#""type":"JobProgress""#) })
            #expect(after.count >= 7)
            #expect(try await queue.latestEvents(count: 2).map(\.streamID) == after.suffix(2).map(\.streamID))
        }
    }

    @Test("per-minute history counts finished jobs and retried attempts, in Redis with an expiry")
    func minuteHistory() async throws {
        try await withQueue { queue in
            try await add(queue, (0..<5).map { NewJob(id: "ok\($0)", type: "noop", payload: "{}") } +
                          (0..<2).map { NewJob(id: "bad\($0)", type: "noop", payload: "{}") } +
                          [NewJob(id: "retry", type: "noop", payload: "{}")])
            for delivery in try await queue.fetch(max: 20).deliveries {
                if delivery.id == "retry" {
                    _ = try await queue.fail(id: delivery.id, token: delivery.token, code: "X", message: "m", retryable: true, retryDelay: .zero)
                } else if delivery.id.hasPrefix("bad") {
                    _ = try await queue.fail(id: delivery.id, token: delivery.token, code: "DRILL", message: "m", retryable: false, retryDelay: .zero)
                } else {
                    _ = try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}")
                }
            }
            try await Task.sleep(for: .milliseconds(20))
            try await runAll(queue)
            let minute = Int(Date().timeIntervalSince1970) / 60
            let counts = try await queue.minuteCounts(from: minute - 2, to: minute + 1)
            let total = counts.values.reduce(into: [String: Int]()) { sum, entry in for (k, v) in entry { sum[k, default: 0] += v } }
            #expect(total["dead"] == 2 && total["retried"] == 1)
            #expect(total["completed"] == 6)
            let ttl = try await queue.client.command(["PTTL", queue.keyBase + "minutes:\(minute / 1440)"]).integer ?? 0
            #expect(ttl > 7 * 86_400_000 && ttl <= 8 * 86_400_000)
        }
    }

    @Test("delete one dead job; a job that is not dead is not deleted")
    func deleteDead() async throws {
        try await withQueue { queue in
            try await add(queue, [NewJob(id: "bad1", type: "noop", payload: "{}"), NewJob(id: "fine", type: "noop", payload: "{}")])
            try await runAll(queue)
            #expect(try await queue.deleteDead(id: "fine") == false)
            #expect(try await queue.deleteDead(id: "bad1"))
            #expect(try await queue.record(id: "bad1") == nil)
            #expect(try await queue.counts().dead == 0)
        }
    }
}
