import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The holes step 14 closed, one focused test each (each failed before its fix): forged part
/// ids, parts expiring before their stitch, a parent waiting for a part that is gone, late
/// parts touching a new attempt, repairs of a stable name from an old snapshot, slots and
/// indexes that only grew, and one script deleting a whole backlog of finished ids.
@Suite("Queue holes under hostile timing")
struct ProtocolHolesTests {
    let base = JobQueueTests()

    func version(_ id: String, slot: String) -> OutputVersionRecord {
        OutputVersionRecord(id: id, url: "file:///out/f/v/\(id)/", slot: slot, stableMaster: "file:///out/f/hls/master.m3u8")
    }

    /// Splits a running parent into parts named as the worker names them.
    func split(_ queue: JobQueue, _ parent: Delivery, assets: [String], version id: String) async throws -> [JobPart] {
        #expect(try await queue.openVersion(id: parent.id, token: parent.token, version: version(id, slot: "slot-" + parent.id)))
        let parts = assets.map { asset in
            JobPart(id: JobPart.id(parent: parent.id, attempt: parent.attempt, asset: asset), type: "transcode_chunk",
                    work: .seconds(10), payload: "{}", asset: asset)
        }
        #expect(try await queue.fanOut(id: parent.id, token: parent.token, eventJSON: #"{"chunks":2}"#, parts: parts) == .accepted)
        return parts
    }

    func completePart(_ queue: JobQueue, _ delivery: Delivery) async throws -> Bool {
        let event = Publication.AssetEvent(type: "TranscodeChunkCompleted", dataJSON: #"{"chunk_job_id":"\#(delivery.id)"}"#)
        return try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}",
                                        publication: Publication(version: nil, grace: .zero, assets: [event]))
    }

    func ttl(_ queue: JobQueue, _ key: String) async throws -> Int64 {
        try await queue.client.command(["PTTL", key]).integer ?? -3
    }

    @Test("a producer's job is never taken by a part: part ids use a character producers cannot, and fan_out refuses a taken id")
    func forgedPartIDs() async throws {
        // Producers' ids are A-Z a-z 0-9 . _ : - ; a part's carries "~".
        let decided = JobDecoder().decide(Array(#"{"id":"x~a1~c0","type":"probe","input":{"url":"file:///in/a.mp4"}}"#.utf8))
        guard case .rejected(let rejected) = decided else { Issue.record("an id with ~ was accepted: \(decided)"); return }
        #expect(rejected.code == "JOB_INVALID_FIELD")
        #expect(JobPart.id(parent: "x", attempt: 1, asset: "c0") == "x~a1~c0")

        try await base.withQueue { queue, _ in
            // The worst case: a job already holds the id a part would get.
            try await base.add(queue, base.job("p", type: "transcode"), base.job("p~a1~c1"))
            let parent = try #require(try await queue.fetch(max: 1).deliveries.first { $0.id == "p" })
            #expect(try await queue.openVersion(id: "p", token: parent.token, version: version("vp", slot: "slot-p")))
            let parts = ["c0", "c1"].map {
                JobPart(id: JobPart.id(parent: "p", attempt: parent.attempt, asset: $0), type: "transcode_chunk", work: .seconds(1), payload: "{}", asset: $0)
            }
            #expect(try await queue.fanOut(id: "p", token: parent.token, eventJSON: "{}", parts: parts) == .partExists("p~a1~c1"))
            // Nothing changed: the producer's job is whole and waiting, no part was made, the parent still runs.
            let held = try #require(try await queue.record(id: "p~a1~c1"))
            #expect(held.state == .waiting && held.fields["type"] == "noop" && held.fields["parent"] == nil)
            #expect(try await queue.record(id: "p~a1~c0") == nil)
            #expect(try await queue.record(id: "p")?.state == .active)
            #expect(try await base.eventTypes(queue, job: "p").contains("TranscodeSplit") == false)
        }
    }

    @Test("a part's record has no expiry while its parent's attempt runs, whatever the retention; it expires with the parent")
    func partsOutliveRetention() async throws {
        // Judged by whether an expiry is set, not by waiting for it: a loaded machine cannot change the verdict.
        try await base.withQueue({ $0.retention = .seconds(600) }) { queue, _ in
            try await base.add(queue, base.job("p", type: "transcode"))
            let parent = try #require(try await queue.fetch(max: 1).deliveries.first)
            let parts = try await split(queue, parent, assets: ["c0", "c1"], version: "vp")
            for delivery in try await queue.fetch(max: 2).deliveries { #expect(try await completePart(queue, delivery)) }
            // Waiting for its stitch (a day behind higher-priority work, say): its parts have no expiry.
            #expect(try await queue.record(id: "p")?.state == .waiting)
            for part in parts { #expect(try await ttl(queue, queue.jobKey(part.id)) == -1, "\(part.id)") }
            let stitch = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.parts(of: "p").allSatisfy { $0.state == .completed })
            #expect(try await queue.complete(id: "p", token: stitch.token, dataJSON: "{}", publication: Publication(version: "vp", grace: .zero)))
            for part in parts {
                let left = try await ttl(queue, queue.jobKey(part.id))
                #expect(left > 0 && left <= 600_000, "\(part.id): \(left)")
            }
        }
    }

    @Test("a parent whose part is gone from Redis fails with TRANSCODE_PARTS_LOST instead of waiting forever")
    func lostPartFailsParent() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("p", type: "transcode", maxAttempts: 1))
            let parent = try #require(try await queue.fetch(max: 1).deliveries.first)
            let parts = try await split(queue, parent, assets: ["c0", "c1"], version: "vp")
            _ = try await queue.client.command(["DEL", queue.jobKey(parts[1].id)])
            // The next fetch checks the parent (due at once after its split, then one lease apart).
            _ = try await queue.fetch(max: 1)
            let record = try #require(try await queue.record(id: "p"))
            #expect(record.state == .dead && record.errorCode == "TRANSCODE_PARTS_LOST", "\(record.fields)")
            let failed = try await base.events(queue).last { $0["job_id"] as? String == "p" }
            #expect(failed?["type"] as? String == "TranscodeFailed")
            #expect((failed?["data"] as? [String: Any])?["error_code"] as? String == "TRANSCODE_PARTS_LOST")
            // The other part ended (or was asked to) with it.
            #expect(try await queue.record(id: parts[0].id)?.state != .waiting)
        }
    }

    @Test("a late part (its parent failed and was retried into a new split) touches nothing of the new attempt and leaves its folder to the janitor")
    func latePartTouchesNothing() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("p", type: "transcode", maxAttempts: 1))
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            _ = try await split(queue, first, assets: ["c0", "c1"], version: "v1")
            let running = try await queue.fetch(max: 2).deliveries
            let (failing, late) = (running[0], running[1])
            #expect(try await queue.openVersion(id: late.id, token: late.token,
                                                version: OutputVersionRecord(id: "late", url: "file:///out/f/v/v1/p/late/", slot: "", stableMaster: nil)))
            #expect(try await queue.fail(id: failing.id, token: failing.token, code: "MEDIA_INPUT_CORRUPT", message: "bad", retryable: false, retryDelay: .zero) == .dead)
            #expect(try await queue.retryDead(id: "p"))
            let second = try #require(try await queue.fetch(max: 1).deliveries.first { $0.id == "p" })
            let newParts = try await split(queue, second, assets: ["c0", "c1"], version: "v2")
            let eventsBefore = try await base.events(queue).count
            // The late part of the first split completes: accepted for itself, nothing for the parent.
            #expect(try await completePart(queue, late))
            let after = Array(try await base.events(queue).dropFirst(eventsBefore))
            #expect(after.allSatisfy { $0["job_id"] as? String != "p" }, "\(after)")
            let parent = try #require(try await queue.record(id: "p"))
            #expect(parent.state == .waitingChildren && parent.fields["pending"] == "2" && parent.fields["work_done"] == "0")
            // Its folder is trash for the janitor, not a forgotten record.
            #expect(try await queue.client.command(["ZSCORE", queue.keyBase + "trash", "late"]).string != nil)
            // Cancelling a late part cancels it alone: the new attempt goes on.
            #expect(try await queue.cancel(id: failing.id) == .alreadyDead)
            #expect(try await queue.record(id: "p")?.state == .waitingChildren)
            #expect(newParts.count == 2)
        }
    }

    @Test("a repair of a stable name waits for the slot's publisher and reads the current version under the slot's right")
    func repairsHoldTheSlot() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("a"), base.job("b"))
            let jobs = try await queue.fetch(max: 2).deliveries
            let (a, b) = (jobs[0], jobs[1])
            #expect(try await queue.openVersion(id: a.id, token: a.token, version: version("va", slot: "s")))
            #expect(try await queue.openVersion(id: b.id, token: b.token, version: version("vb", slot: "s")))
            #expect(try await queue.beginPublishing(id: a.id, token: a.token) == .ok)
            #expect(try await queue.complete(id: a.id, token: a.token, dataJSON: "{}", publication: Publication(version: "va", grace: .zero)))
            // b is publishing: a janitor's repair must wait, and then sees b's version as current.
            #expect(try await queue.beginPublishing(id: b.id, token: b.token) == .ok)
            #expect(try await queue.lockSlot("s", holder: "janitor:x", lease: .seconds(30)) == nil)
            #expect(try await queue.complete(id: b.id, token: b.token, dataJSON: "{}", publication: Publication(version: "vb", grace: .zero)))
            let lock = try #require(try await queue.lockSlot("s", holder: "janitor:x", lease: .seconds(30)))
            #expect(lock.currentVersion == "vb")
            // While the repair holds it, a publisher waits.
            try await base.add(queue, base.job("c"))
            let c = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: c.id, token: c.token, version: version("vc", slot: "s")))
            #expect(try await queue.beginPublishing(id: c.id, token: c.token) == .busy)
            #expect(try await queue.unlockSlot(lock))
            #expect(try await queue.beginPublishing(id: c.id, token: c.token) == .ok)
            #expect(try await queue.currentVersion(slot: "s")?.id == "vb", "the slot stays published after a repair")
        }
    }

    @Test("a version is not handed to a janitor while its delivery still holds the slot's publication right (it may be writing the stable master)")
    func janitorWaitsForThePublicationRight() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("a"))
            let a = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: a.id, token: a.token, version: version("va", slot: "s")))
            #expect(try await queue.beginPublishing(id: a.id, token: a.token) == .ok)
            // Cancelled while it publishes, and its lease runs out: its version is trash at once.
            #expect(try await queue.cancel(id: "a") == .cancelRequested)
            _ = try await queue.client.command(["ZADD", queue.keyBase + "active", "XX", "0", "a"])
            _ = try await queue.fetch(max: 1)
            #expect(try await queue.record(id: "a")?.state == .canceled)
            #expect(try await queue.takeTrash(max: 5, lease: .seconds(30)).versions.isEmpty, "deleted while its publisher may still write the master")
            // Once the right has ended (as if its lease had passed), the janitor takes it.
            _ = try await queue.client.command(["HSET", queue.keyBase + "slot:s", "publishing_until", "0"])
            _ = try await queue.client.command(["ZADD", queue.keyBase + "trash", "XX", "0", "va"])
            #expect(try await queue.takeTrash(max: 5, lease: .seconds(30)).versions.map(\.id) == ["va"])
        }
    }

    @Test("a slot whose first publication never completes goes with its right; a published one stays")
    func slotsDoNotLeak() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("a", maxAttempts: 1))
            let a = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: a.id, token: a.token, version: version("va", slot: "s")))
            #expect(try await queue.beginPublishing(id: a.id, token: a.token) == .ok)
            #expect(try await queue.fail(id: a.id, token: a.token, code: "X", message: "m", retryable: false, retryDelay: .zero) == .dead)
            // A delivery that ended itself gives the right back: the slot had nothing published, so it goes.
            #expect(try await ttl(queue, queue.keyBase + "slot:s") == -2)
            try await base.add(queue, base.job("b"))
            let b = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: b.id, token: b.token, version: version("vb", slot: "s")))
            #expect(try await queue.beginPublishing(id: b.id, token: b.token) == .ok)
            #expect(try await queue.complete(id: b.id, token: b.token, dataJSON: "{}", publication: Publication(version: "vb", grace: .zero)))
            #expect(try await ttl(queue, queue.keyBase + "slot:s") == -1)
        }
    }

    @Test("a fenced publisher's right lasts until its lease ends; a slot with nothing published expires with it")
    func fencedPublisherSlot() async throws {
        try await base.withQueue({ $0.lease = .seconds(30) }) { queue, _ in
            try await base.add(queue, base.job("a"))
            let a = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: a.id, token: a.token, version: version("va", slot: "s")))
            #expect(try await queue.beginPublishing(id: a.id, token: a.token) == .ok)
            // Its lease runs out (frozen): the stall fences it, and its right stays until its own lease ends.
            _ = try await queue.client.command(["ZADD", queue.keyBase + "active", "XX", "0", "a"])
            let again = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(again.id == "a" && again.attempt == 2)
            #expect(try await queue.openVersion(id: a.id, token: again.token, version: version("va2", slot: "s")))
            #expect(try await queue.beginPublishing(id: a.id, token: again.token) == .busy)
            let left = try await ttl(queue, queue.keyBase + "slot:s")
            #expect(left > 0 && left <= 60_000, "an unpublished slot keeps no key for ever (PTTL \(left))")
        }
    }

    @Test("search indexes drop ids older than a dead job's retention as new ones come")
    func indexesAreTrimmed() async throws {
        try await base.withQueue { queue, _ in
            var old = base.job("old")
            old.fileID = "f1"
            try await base.add(queue, old)
            // As if "old" was indexed long ago (past the dead retention).
            _ = try await queue.client.command(["ZADD", queue.keyBase + "by:file:f1", "XX", "0", "old"])
            var new = base.job("new")
            new.fileID = "f1"
            try await base.add(queue, new)
            let ids = (try await queue.client.command(["ZRANGE", queue.keyBase + "by:file:f1", "0", "-1"]).array ?? []).compactMap(\.string)
            #expect(ids == ["new"])
        }
    }

    @Test("finished-job ids are pruned in bounded batches: 32 by every 16th finish, and 1,000 a set by each fetch")
    func boundedPruning() async throws {
        try await base.withQueue { queue, _ in
            // 2,500 completed ids past their retention (as a backlog that deferred the pruning leaves).
            var command = ["ZADD", queue.keyBase + "completed"]
            for index in 0..<2500 { command += ["0", "gone-\(index)"] }
            _ = try await queue.client.command(command)
            _ = try await queue.fetch(max: 1)
            #expect(try await queue.client.command(["ZCARD", queue.keyBase + "completed"]).integer == 1500)
            // Sixteen finishes (sixteen consecutive tokens: one of them a multiple of 16) let 32
            // aged ids go with the sixteen they add: two per id, without a ZCOUNT on each.
            for index in 0..<16 { try await base.add(queue, base.job("j\(index)")) }
            let deliveries = try await queue.fetch(max: 16).deliveries
            #expect(deliveries.count == 16)
            #expect(try await queue.client.command(["ZCARD", queue.keyBase + "completed"]).integer == 500)
            for delivery in deliveries {
                #expect(try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}"))
            }
            #expect(try await queue.client.command(["ZCARD", queue.keyBase + "completed"]).integer == 500 - 32 + 16)
        }
    }
}
