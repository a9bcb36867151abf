import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// What consumers and operators can rely on when a job's delivery is fenced off, retried from
/// dead, resubmitted or its id reused; and inbox items shared by two hosts with one worker id.
@Suite("Queue semantics at the edges")
struct QueueSemanticsTests {
    let base = JobQueueTests()

    func terminalEvents(_ queue: JobQueue, job id: String) async throws -> [(type: String, attempt: Int)] {
        try await base.events(queue).filter { $0["job_id"] as? String == id }.compactMap { event in
            guard let type = event["type"] as? String, type.hasSuffix("Completed") || type.hasSuffix("Failed") || type.hasSuffix("Canceled") else { return nil }
            return (type, event["attempt"] as? Int ?? -1)
        }
    }

    @Test("a stale delivery of a job that a stall cancelled cannot complete, fail or repeat an answer")
    func stallCancelFencesOldToken() async throws {
        try await base.withQueue({ $0.lease = .milliseconds(200) }) { queue, _ in
            try await base.add(queue, base.job("c1"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.cancel(id: "c1") == .cancelRequested)
            try await Task.sleep(for: .milliseconds(300))
            // The lease expired with the cancel pending: the recovery ends it canceled.
            #expect(try await queue.fetch(max: 1).deliveries.isEmpty)
            #expect(try await queue.record(id: "c1")?.state == .canceled)
            // The worker that held it wakes up and reports: every answer is "not yours".
            #expect(try await !queue.complete(id: "c1", token: delivery.token, dataJSON: "{}"))
            #expect(try await !queue.acknowledgeCancel(id: "c1", token: delivery.token))
            #expect(try await queue.fail(id: "c1", token: delivery.token, code: "X", message: "x", retryable: false, retryDelay: .zero) == .stale)
            let terminal = try await terminalEvents(queue, job: "c1")
            #expect(terminal.map(\.type) == ["NoopCanceled"])
            #expect(try await queue.record(id: "c1")?.state == .canceled)
        }
    }

    @Test("two processes sharing a worker id (and so a claimed list) lose no inbox item, whatever the order")
    func sharedClaimedList() async throws {
        try await base.withQueue { queue, _ in
            let worker = "same-id"
            try await queue.client.command(["RPUSH", queue.inboxKey, "item-a", "item-b", "item-c"])
            // Host A claims a, host B claims b and c: one list, [a, b, c].
            let hostA = try await queue.claim(max: 1, worker: worker)
            let hostB = try await queue.claim(max: 2, worker: worker)
            #expect(hostA.map { String(decoding: $0, as: UTF8.self) } == ["item-a"])
            // B ingests first: its items are not at the head of the list.
            let fromB = try await queue.ingest([(item: hostB[0], decision: .jobs([base.job("b")])), (item: hostB[1], decision: .jobs([base.job("c")]))], worker: worker)
            #expect(fromB == [["queued", "displaced"], ["queued", "displaced"]])
            let fromA = try await queue.ingest(.jobs([base.job("a")]), item: hostA[0], worker: worker)
            #expect(fromA == ["queued"])
            for id in ["a", "b", "c"] { #expect(try await queue.record(id: id)?.state == .waiting, "\(id) lost") }
            #expect(try await queue.client.command(["LLEN", queue.claimedKey(worker: worker)]).integer == 0)
            // A rejected item found further in is taken too, and only it.
            try await queue.client.command(["RPUSH", queue.inboxKey, "good", "bad"])
            let first = try await queue.claim(max: 1, worker: worker)
            let second = try await queue.claim(max: 1, worker: worker)
            #expect(try await queue.ingest(.rejected(RejectedItem(id: "bad-1", type: nil, code: "JOB_INVALID_JSON", message: "m")),
                                           item: second[0], worker: worker) == ["dead"])
            #expect(try await queue.ingest(.jobs([base.job("good-1")]), item: first[0], worker: worker) == ["queued"])
        }
    }

    @Test("dead retry: attempts keep counting, so each terminal event has an attempt number of its own")
    func deadRetryAttempts() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("r1", maxAttempts: 1))
            for round in 1...2 {
                let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
                #expect(delivery.attempt == round)
                #expect(try await queue.fail(id: "r1", token: delivery.token, code: "DRILL", message: "m", retryable: true, retryDelay: .zero) == .dead)
                #expect(try await queue.retryDead(id: "r1"))
            }
            let last = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(last.attempt == 3 && last.maxAttempts == 3)
            #expect(try await queue.complete(id: "r1", token: last.token, dataJSON: "{}"))
            let terminal = try await terminalEvents(queue, job: "r1")
            #expect(terminal.map(\.type) == ["NoopFailed", "NoopFailed", "NoopCompleted"])
            #expect(terminal.map(\.attempt) == [1, 2, 3])
            let requeued = try await base.events(queue).filter { $0["type"] as? String == "JobRequeued" }.compactMap { $0["data"] as? [String: Int] }
            #expect(requeued == [["attempts": 1, "max_attempts": 2], ["attempts": 2, "max_attempts": 3]])
        }
    }

    @Test("a corrected resubmission: the invalid one's failure at attempt 0, then the new job's events from attempt 1")
    func takeoverEvents() async throws {
        try await base.withQueue { queue, _ in
            try await queue.client.command(["RPUSH", queue.inboxKey, "bad"])
            let claimed = try await queue.claim(max: 1, worker: JobQueueTests.worker)
            _ = try await queue.ingest(.rejected(RejectedItem(id: "t1", type: "noop", code: "JOB_INVALID_FIELD", message: "m")),
                                       item: claimed[0], worker: JobQueueTests.worker)
            #expect(try await base.add(queue, base.job("t1")) == ["queued"])
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.complete(id: "t1", token: delivery.token, dataJSON: "{}"))
            let terminal = try await terminalEvents(queue, job: "t1")
            #expect(terminal.map(\.type) == ["NoopFailed", "NoopCompleted"] && terminal.map(\.attempt) == [0, 1])
        }
    }

    @Test("an id is a duplicate while its record is kept; once it expired, the id makes a new job counting from attempt 1")
    func idReusedAfterExpiry() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("e1"))
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.complete(id: "e1", token: first.token, dataJSON: "{}"))
            #expect(try await base.add(queue, base.job("e1")) == ["duplicate"])
            #expect(try await queue.client.command(["PTTL", queue.jobKey("e1")]).integer ?? 0 > 0, "a finished record expires")
            // Its retention runs out (what Redis does to the key at MW_RETENTION_S, without the wait).
            try await queue.client.command(["PEXPIRE", queue.jobKey("e1"), "1"])
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await base.add(queue, base.job("e1")) == ["queued"])
            let second = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(second.attempt == 1)
        }
    }
}
