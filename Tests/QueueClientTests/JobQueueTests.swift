import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// Every queue transition against a real redis-server.
@Suite("JobQueue transitions")
struct JobQueueTests {
    static let worker = "worker-a"

    func withQueue(_ configure: (inout QueueOptions) -> Void = { _ in }, _ body: (JobQueue, RedisServer) async throws -> Void) async throws {
        try await RedisServer.with { server in
            var options = QueueOptions()
            configure(&options)
            let client = RedisClient(url: try RedisURL(parsing: server.url))
            let queue = JobQueue(name: "q", options: options, client: client, actor: Self.worker)
            try await body(queue, server)
            await client.close()
        }
    }

    func job(_ id: String, type: String = "noop", priority: JobPriority = .normal, maxAttempts: Int = 3, runAt: Int64? = nil) -> NewJob {
        NewJob(id: id, type: type, priority: priority, maxAttempts: maxAttempts, runAtMilliseconds: runAt,
               payload: #"{"id":"\#(id)"}"#, metadataJSON: #"{"tenant":"t1"}"#)
    }

    /// What a producer does (RPUSH), then what a worker does with the item (claim, ingest).
    @discardableResult
    func add(_ queue: JobQueue, _ jobs: NewJob...) async throws -> [String] {
        try await queue.client.command(["RPUSH", queue.inboxKey, "{}"])
        let claimed = try await queue.claim(max: 1, worker: Self.worker)
        #expect(claimed.count == 1)
        return try await queue.ingest(.jobs(jobs), item: claimed[0], worker: Self.worker)
    }

    func events(_ queue: JobQueue) async throws -> [[String: Any]] {
        let reply = try await queue.client.command(["XRANGE", queue.eventsKey, "-", "+"])
        return try (reply.array ?? []).map { entry in
            let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
            let json = fields[fields.firstIndex(of: "event")! + 1]
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        }
    }

    func redisMilliseconds(_ queue: JobQueue) async throws -> Double {
        let time = (try await queue.client.command(["TIME"]).array ?? []).compactMap(\.string)
        return Double(time[0])! * 1000 + Double(time[1])! / 1000
    }

    /// A job due `delay` ms after `since` (Redis's clock): a fetch inside the delay gets nothing and
    /// says when to wake (judged only when Redis's clock puts it there: a loaded machine stalled a
    /// test for 20 s once); a fetch after it gets the job.
    func expectHeldThenDelivered(_ queue: JobQueue, id: String, since: Double, delay: Int) async throws {
        let early = try await queue.fetch(max: 1)
        if try await redisMilliseconds(queue) - since < Double(delay - 100) {
            #expect(early.deliveries.isEmpty)
            let wake = try #require(early.nextWake)
            #expect(wake > .zero && wake <= .milliseconds(delay))
        }
        var fetched = early.deliveries.map(\.id)
        if fetched.isEmpty {
            try await Task.sleep(for: (early.nextWake ?? .milliseconds(delay)) + .milliseconds(50))
            fetched = try await queue.fetch(max: 1).deliveries.map(\.id)
        }
        #expect(fetched == [id])
    }

    func eventTypes(_ queue: JobQueue, job id: String) async throws -> [String] {
        try await events(queue).filter { $0["job_id"] as? String == id }.compactMap { $0["type"] as? String }
    }

    @Test("queued → active → completed, with events in the design's envelope")
    func completeLifecycle() async throws {
        try await withQueue { queue, _ in
            #expect(try await add(queue, job("j1")) == ["queued"])
            #expect(try await queue.counts().waiting == 1)
            let fetched = try await queue.fetch(max: 5)
            let delivery = try #require(fetched.deliveries.first)
            #expect(fetched.deliveries.count == 1 && !fetched.moreWaiting)
            #expect(delivery.id == "j1" && delivery.attempt == 1 && delivery.type == "noop")
            #expect(delivery.payload == #"{"id":"j1"}"#)
            #expect(try await queue.record(id: "j1")?.state == .active)
            #expect(try await queue.complete(id: "j1", token: delivery.token, dataJSON: #"{"ok":true,"list":[]}"#))
            let record = try #require(try await queue.record(id: "j1"))
            #expect(record.state == .completed)
            let ttl = try await queue.client.command(["PTTL", queue.jobKey("j1")]).integer ?? -1
            #expect(ttl > 0 && ttl <= 24 * 3600 * 1000)

            #expect(try await eventTypes(queue, job: "j1") == ["JobQueued", "JobStarted", "NoopCompleted"])
            let terminal = try #require(try await events(queue).last)
            let eventID = try #require(terminal["event_id"] as? String)
            #expect(UUID(uuidString: eventID) != nil)
            #expect(Array(eventID)[14] == "4")
            #expect(terminal["attempt"] as? Int == 1)
            #expect(terminal["worker_id"] as? String == Self.worker)
            #expect((terminal["metadata"] as? [String: Any])?["tenant"] as? String == "t1")
            #expect((terminal["data"] as? [String: Any])?["list"] is [Any])
            let occurred = try #require(terminal["occurred_at"] as? String)
            let date = try Date(occurred, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(abs(date.timeIntervalSinceNow) < 5)
            let ids = Set(try await events(queue).compactMap { $0["event_id"] as? String })
            #expect(ids.count == 3)
        }
    }

    @Test("a stale token is refused for every call, a retried report is idempotent, and a job has one terminal event")
    func fencing() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("j1"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            let stale = String((Int(delivery.token) ?? 0) + 1000)
            #expect(try await !queue.complete(id: "j1", token: stale, dataJSON: "{}"))
            #expect(try await !queue.progress(id: "j1", token: stale, json: #"{"percent":5}"#))
            #expect(try await queue.fail(id: "j1", token: stale, code: "X", message: "x", retryable: true, retryDelay: .zero) == .stale)
            #expect(try await !queue.release(id: "j1", token: stale))
            #expect(try await queue.heartbeat([(id: "j1", token: stale)]) == [.lost])
            #expect(try await queue.complete(id: "j1", token: delivery.token, dataJSON: "{}"))
            // The same delivery completing again (a retry after a lost reply) gets the same answer, and no second event.
            #expect(try await queue.complete(id: "j1", token: delivery.token, dataJSON: "{}"))
            #expect(try await queue.fail(id: "j1", token: delivery.token, code: "X", message: "x", retryable: false, retryDelay: .zero) == .stale)
            let terminal = try await eventTypes(queue, job: "j1").filter { $0.hasSuffix("Completed") || $0.hasSuffix("Failed") }
            #expect(terminal == ["NoopCompleted"])
        }
    }

    @Test("a retryable failure is retried until attempts run out, then dead with its last error")
    func retriesThenDead() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("t1", type: "transcode", maxAttempts: 2))
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            let failedAt = try await redisMilliseconds(queue)
            let outcome = try await queue.fail(id: "t1", token: first.token, code: "STORAGE_UNAVAILABLE", message: "503", retryable: true, retryDelay: .milliseconds(3000))
            guard case .retryScheduled = outcome else { Issue.record("expected a retry, got \(outcome)"); return }
            #expect(try await queue.record(id: "t1")?.state == .failed)
            let early = try await queue.fetch(max: 1)
            // Only a fetch that Redis's clock puts inside the delay must come back empty (a loaded CI machine can stall for seconds).
            if try await redisMilliseconds(queue) - failedAt < 2900 {
                #expect(early.deliveries.isEmpty)
                let wake = try #require(early.nextWake)
                #expect(wake <= .milliseconds(3000))
            }
            var retried = early.deliveries.first
            if retried == nil {
                try await Task.sleep(for: (early.nextWake ?? .milliseconds(3000)) + .milliseconds(50))
                retried = try await queue.fetch(max: 1).deliveries.first
            }
            let second = try #require(retried)
            #expect(second.attempt == 2 && second.token != first.token)
            #expect(try await queue.fail(id: "t1", token: second.token, code: "STORAGE_UNAVAILABLE", message: "503 again", retryable: true, retryDelay: .zero) == .dead)
            let record = try #require(try await queue.record(id: "t1"))
            #expect(record.state == .dead && record.errorCode == "STORAGE_UNAVAILABLE" && record.attempts == 2)
            let history = try #require(try JSONSerialization.jsonObject(with: Data((record.fields["history"] ?? "").utf8)) as? [[String: Any]])
            #expect(history.count == 2)
            #expect(try await eventTypes(queue, job: "t1") == ["JobQueued", "JobStarted", "JobRetryScheduled", "JobQueued", "JobStarted", "TranscodeFailed"])
            let failed = try #require(try await events(queue).last)
            #expect((failed["data"] as? [String: Any])?["error_code"] as? String == "STORAGE_UNAVAILABLE")
            #expect(failed.keys.contains("file_id") && failed.keys.contains("meta_movie_id"))
            #expect(try await queue.statistics()["retries"] == 1)
        }
    }

    @Test("a permanent error goes to dead at once")
    func permanentError() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("p1", maxAttempts: 5))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.fail(id: "p1", token: delivery.token, code: "MEDIA_INPUT_CORRUPT", message: "bad", retryable: false, retryDelay: .zero) == .dead)
            #expect(try await queue.deadJobs().map(\.id) == ["p1"])
        }
    }

    @Test("high before normal before low; FIFO within a priority")
    func priorities() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("low1", priority: .low))
            try await add(queue, job("n1"))
            try await add(queue, job("high1", priority: .high))
            try await add(queue, job("n2"))
            let first = try await queue.fetch(max: 3)
            #expect(first.deliveries.map(\.id) == ["high1", "n1", "n2"])
            #expect(first.moreWaiting)
            #expect(try await queue.fetch(max: 3).deliveries.map(\.id) == ["low1"])
        }
    }

    @Test("a delayed job waits for its time; the fetch says when to wake")
    func delayed() async throws {
        try await withQueue { queue, _ in
            let nowMs = try await redisMilliseconds(queue)
            let added = try await add(queue, job("d1", runAt: Int64(nowMs) + 4000))
            // A loaded machine once stalled 20 s between reading the time and adding: a job whose
            // time has already come is queued at once, which is right too. Judge what the clock allows.
            if try await redisMilliseconds(queue) < nowMs + 4000 {
                #expect(added == ["delayed"])
            } else {
                #expect(added == ["delayed"] || added == ["queued"])
            }
            try await expectHeldThenDelivered(queue, id: "d1", since: nowMs, delay: 4000)
        }
    }

    @Test("a relative delay is applied with Redis's clock")
    func relativeDelay() async throws {
        try await withQueue { queue, _ in
            var delayed = job("later")
            delayed.delayMilliseconds = 3000
            let addedAt = try await redisMilliseconds(queue)
            #expect(try await add(queue, delayed) == ["delayed"])
            try await expectHeldThenDelivered(queue, id: "later", since: addedAt, delay: 3000)
        }
    }

    @Test("a duplicate id is ignored and counted; one inbox item may carry several jobs")
    func duplicates() async throws {
        try await withQueue { queue, _ in
            let first = try await add(queue, job("same"), job("other"))
            #expect(first == ["queued", "queued"])
            let again = try await add(queue, job("same"))
            #expect(again == ["duplicate"])
            #expect(try await queue.statistics()["duplicates"] == 1)
            #expect(try await queue.counts().waiting == 2)
            #expect(try await queue.counts().inbox == 0)
        }
    }

    @Test("an expired lease is recovered as a stall; after max stalls the job is dead as a poison pill")
    func stallsAndPoisonPill() async throws {
        try await withQueue({ $0.lease = .milliseconds(200); $0.maxStalls = 1 }) { queue, _ in
            try await add(queue, job("s1"))
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            try await Task.sleep(for: .milliseconds(300))
            let second = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(second.id == "s1" && second.attempt == 2)
            #expect(try await !queue.complete(id: "s1", token: first.token, dataJSON: "{}"))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await queue.fetch(max: 1).deliveries.isEmpty)
            let record = try #require(try await queue.record(id: "s1"))
            #expect(record.state == .dead && record.errorCode == "JOB_STALLED")
            #expect(try await eventTypes(queue, job: "s1") == ["JobQueued", "JobStarted", "JobStalled", "JobStarted", "NoopFailed"])
            #expect(try await queue.statistics()["stalls_recovered"] == 2)
        }
    }

    @Test("heartbeats keep a lease alive")
    func heartbeatsKeepLease() async throws {
        try await withQueue({ $0.lease = .milliseconds(3000) }) { queue, _ in
            try await add(queue, job("h1"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            var renewed = try await redisMilliseconds(queue)
            for _ in 0..<6 {
                try await Task.sleep(for: .milliseconds(400))
                // A stall near the 3 s lease (on Redis's clock) lets it expire for real: nothing left to judge.
                let sent = try await redisMilliseconds(queue)
                let beat = try await queue.heartbeat([(id: "h1", token: delivery.token)])
                guard sent - renewed < 2000 else { break }
                #expect(beat == [.held])
                renewed = sent
                let fetched = try await queue.fetch(max: 1)
                guard try await redisMilliseconds(queue) - sent < 2000 else { break }
                #expect(fetched.deliveries.isEmpty)
            }
            #expect(try await queue.complete(id: "h1", token: delivery.token, dataJSON: "{}"))
        }
    }

    @Test("cancel: waiting and delayed end at once, a running job is told through its heartbeat")
    func cancellation() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("w1"), job("w2"))
            #expect(try await queue.cancel(id: "w1") == .canceled)
            #expect(try await queue.record(id: "w1")?.state == .canceled)
            #expect(try await eventTypes(queue, job: "w1").last == "NoopCanceled")
            try await add(queue, job("d1", runAt: 4_000_000_000_000))
            #expect(try await queue.cancel(id: "d1") == .canceled)
            let running = try #require(try await queue.fetch(max: 5).deliveries.first)
            #expect(running.id == "w2")
            #expect(try await queue.cancel(id: "w2") == .cancelRequested)
            #expect(try await queue.heartbeat([(id: "w2", token: running.token)]) == [.cancelRequested])
            #expect(try await queue.acknowledgeCancel(id: "w2", token: running.token))
            #expect(try await queue.record(id: "w2")?.state == .canceled)
            #expect(try await queue.cancel(id: "w2") == .alreadyCanceled)
            #expect(try await queue.cancel(id: "nope") == .notFound)
            #expect(try await queue.counts() == QueueCounts(inbox: 0, waiting: 0, scheduled: 0, active: 0, completed: 0, dead: 0, canceled: 3))
        }
    }

    @Test("a cancel request is not lost when the running job's worker dies or hands it back")
    func cancelSurvivesLeaveOfActive() async throws {
        try await withQueue({ $0.lease = .milliseconds(200) }) { queue, _ in
            try await add(queue, job("a1"), job("a2"))
            let deliveries = try await queue.fetch(max: 2).deliveries
            #expect(deliveries.count == 2)
            #expect(try await queue.cancel(id: "a1") == .cancelRequested)
            #expect(try await queue.cancel(id: "a2") == .cancelRequested)
            let second = try #require(deliveries.first { $0.id == "a2" })
            #expect(try await queue.release(id: "a2", token: second.token))
            #expect(try await queue.record(id: "a2")?.state == .canceled)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await queue.fetch(max: 2).deliveries.isEmpty, "a cancelled job must not run again")
            #expect(try await queue.record(id: "a1")?.state == .canceled)
            #expect(try await eventTypes(queue, job: "a1").last == "NoopCanceled")
        }
    }

    @Test("release hands a running job back at once, uncounted, and wakes an idle worker")
    func release() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("r1"), job("r2"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            try await queue.client.command(["DEL", queue.markerKey])
            #expect(try await queue.release(id: "r1", token: delivery.token))
            #expect(try await queue.record(id: "r1")?.attempts == 0)
            #expect(try await queue.client.command(["LLEN", queue.markerKey]).integer == 1)
            let again = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(again.id == "r1" && again.attempt == 1)
        }
    }

    @Test("dead letters: list, retry one, purge")
    func deadLetters() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("x1"), job("x2"))
            for delivery in try await queue.fetch(max: 2).deliveries {
                _ = try await queue.fail(id: delivery.id, token: delivery.token, code: "MEDIA_INPUT_CORRUPT", message: "no moov", retryable: false, retryDelay: .zero)
            }
            let dead = try await queue.deadJobs()
            #expect(Set(dead.map(\.id)) == ["x1", "x2"])
            #expect(dead.allSatisfy { $0.errorMessage == "no moov" })
            #expect(try await queue.retryDead(id: "x1"))
            #expect(try await !queue.retryDead(id: "x1"))
            let retried = try #require(try await queue.fetch(max: 1).deliveries.first)
            // Attempts keep counting across a retry: every terminal event has its own attempt number.
            #expect(retried.id == "x1" && retried.attempt == 2 && retried.maxAttempts == 4)
            #expect(try await queue.purgeDead() == 1)
            #expect(try await queue.record(id: "x2") == nil)
        }
    }

    @Test("an invalid inbox item becomes a dead job with its reason and cannot be retried")
    func invalidItem() async throws {
        try await withQueue { queue, _ in
            try await queue.client.command(["RPUSH", queue.inboxKey, "{not json"])
            let claimed = try await queue.claim(max: 1, worker: Self.worker)
            let result = try await queue.ingest(.rejected(RejectedItem(id: "bad-1", type: nil, code: "JOB_INVALID_JSON", message: "unexpected end")), item: claimed[0], worker: Self.worker)
            #expect(result == ["dead"])
            let record = try #require(try await queue.record(id: "bad-1"))
            #expect(record.state == .dead && record.errorCode == "JOB_INVALID_JSON")
            #expect(record.fields["payload"] == "{not json")
            #expect(try await eventTypes(queue, job: "bad-1") == ["JobFailed"])
            #expect(try await !queue.retryDead(id: "bad-1"))
            #expect(try await queue.counts().inbox == 0)
        }
    }

    @Test("an item taken back from a worker thought dead is not ingested by it too")
    func takenBackItemSkipped() async throws {
        try await withQueue { queue, _ in
            try await queue.client.command(["RPUSH", queue.inboxKey, "{}"])
            let claimed = try await queue.claim(max: 1, worker: Self.worker)
            _ = try await queue.requeueClaimed(list: queue.claimedKey(worker: Self.worker))
            let result = try await queue.ingest(.jobs([job("twice")]), item: claimed[0], worker: Self.worker)
            #expect(result == ["skipped"])
            #expect(try await queue.record(id: "twice") == nil)
            #expect(try await queue.counts().inbox == 1)
        }
    }

    @Test("a corrected resubmission takes over the id of an invalid one")
    func correctedResubmission() async throws {
        try await withQueue { queue, _ in
            try await queue.client.command(["RPUSH", queue.inboxKey, "bad"])
            let claimed = try await queue.claim(max: 1, worker: Self.worker)
            _ = try await queue.ingest(.rejected(RejectedItem(id: "fix-me", type: "noop", code: "JOB_INVALID_FIELD", message: "m")), item: claimed[0], worker: Self.worker)
            #expect(try await queue.record(id: "fix-me")?.state == .dead)
            #expect(try await add(queue, job("fix-me")) == ["queued"])
            #expect(try await queue.record(id: "fix-me")?.state == .waiting)
            #expect(try await queue.counts().dead == 0)
        }
    }

    @Test("claimed items of a dead worker go back to the inbox in order")
    func requeueClaimed() async throws {
        try await withQueue { queue, _ in
            try await queue.client.command(["RPUSH", queue.inboxKey, "a", "b", "c"])
            #expect(try await queue.claim(max: 2, worker: "gone").map { String(decoding: $0, as: UTF8.self) } == ["a", "b"])
            #expect(try await queue.claimedLists() == [queue.claimedKey(worker: "gone")])
            #expect(try await queue.requeueClaimed(list: queue.claimedKey(worker: "gone")) == 2)
            #expect(try await queue.client.command(["LRANGE", queue.inboxKey, "0", "-1"]).array?.compactMap(\.string) == ["a", "b", "c"])
            #expect(try await queue.claimedLists().isEmpty)
        }
    }

    @Test("progress and annotations are fenced and show in events")
    func progressAndAnnotations() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("t1", type: "transcode"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.annotate(id: "t1", token: delivery.token, fields: ["file_id": "file-555", "meta_movie_id": "movie-101", "state": "hacked"]))
            #expect(try await queue.progress(id: "t1", token: delivery.token, json: #"{"percent":42.5}"#))
            #expect(try await queue.record(id: "t1")?.state == .active)
            #expect(try await queue.complete(id: "t1", token: delivery.token, dataJSON: "{}"))
            let completed = try #require(try await events(queue).last)
            #expect(completed["type"] as? String == "TranscodeCompleted")
            #expect(completed["file_id"] as? String == "file-555")
            #expect(completed["meta_movie_id"] as? String == "movie-101")
            let progress = try #require(try await events(queue).first { $0["type"] as? String == "JobProgress" })
            #expect((progress["data"] as? [String: Any])?["percent"] as? Double == 42.5)
        }
    }

    @Test("JobProgress at most once a second on Redis's clock; the progress field always current")
    func progressThrottledByRedisClock() async throws {
        try await withQueue { queue, _ in
            try await add(queue, job("p1"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            let start = try await redisMilliseconds(queue)
            for percent in [10, 20, 30] {
                #expect(try await queue.progress(id: "p1", token: delivery.token, json: #"{"percent":\#(percent)}"#))
            }
            let elapsed = try await redisMilliseconds(queue) - start
            #expect(try await queue.record(id: "p1")?.fields["progress"] == #"{"percent":30}"#)
            let emitted = try await eventTypes(queue, job: "p1").filter { $0 == "JobProgress" }.count
            // Three updates inside one second of Redis's clock make one event; a stalled machine may let a second one through.
            if elapsed < 1000 { #expect(emitted == 1) } else { #expect((1...3).contains(emitted)) }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await queue.progress(id: "p1", token: delivery.token, json: #"{"percent":40}"#))
            #expect(try await eventTypes(queue, job: "p1").filter { $0 == "JobProgress" }.count == emitted + 1)
        }
    }

    @Test("scripts are reloaded after Redis forgets them")
    func noscriptReload() async throws {
        try await withQueue { queue, server in
            try await add(queue, job("n1"))
            try await server.cli(["SCRIPT", "FLUSH"])
            #expect(try await queue.fetch(max: 1).deliveries.map(\.id) == ["n1"])
        }
    }

    @Test("every key of a queue carries its hash tag (one slot: Redis Cluster safe)")
    func hashTags() async throws {
        try await withQueue({ $0.lease = .milliseconds(100) }) { queue, server in
            try await add(queue, job("k1"), job("k2", runAt: 4_000_000_000_000))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            _ = try await queue.progress(id: "k1", token: delivery.token, json: "{}")
            _ = try await queue.fail(id: "k1", token: delivery.token, code: "E", message: "m", retryable: false, retryDelay: .zero)
            try await queue.registerClaimer(worker: Self.worker)
            let keys = try await server.cli(["--raw", "KEYS", "*"]).split(separator: "\n")
            #expect(keys.count >= 6)
            #expect(keys.allSatisfy { $0.hasPrefix("mw:{q}:") }, "\(keys)")
        }
    }

    @Test("the event stream is trimmed")
    func eventsTrimmed() async throws {
        try await withQueue({ $0.eventsMaxLength = 50 }) { queue, _ in
            for index in 0..<300 { try await add(queue, job("e\(index)")) }
            let length = try await queue.client.command(["XLEN", queue.eventsKey]).integer ?? 0
            #expect(length < 200, "stream length \(length)")
        }
    }
}
