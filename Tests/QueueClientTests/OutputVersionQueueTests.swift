import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// Output versions in Redis: recorded before any upload, published by completion, trashed by
/// every other end of an attempt (fenced-off ones only after the fence), deleted by janitors.
@Suite("Output versions in the queue")
struct OutputVersionQueueTests {
    let base = JobQueueTests()

    func version(_ id: String, slot: String = "slot-1") -> OutputVersionRecord {
        OutputVersionRecord(id: id, url: "file:///out/f/v/\(id)/", slot: slot, stableMaster: "file:///out/f/hls/master.m3u8")
    }

    func trash(_ queue: JobQueue) async throws -> [String: Double] {
        let items = (try await queue.client.command(["ZRANGE", queue.keyBase + "trash", "0", "-1", "WITHSCORES"]).array ?? []).compactMap(\.string)
        var scores: [String: Double] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { scores[items[index]] = Double(items[index + 1]) }
        return scores
    }

    func nowMilliseconds(_ queue: JobQueue) async throws -> Double {
        let time = (try await queue.client.command(["TIME"]).array ?? []).compactMap(\.string)
        return Double(time[0])! * 1000 + Double(time[1])! / 1000
    }

    @Test("publication: the version becomes current; the one it replaces is trash, due after the grace period")
    func publishAndSupersede() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("p1"), base.job("p2"))
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: "p1", token: first.token, version: version("v1")))
            #expect(try await queue.beginPublishing(id: "p1", token: first.token) == .ok)
            #expect(try await queue.complete(id: "p1", token: first.token, dataJSON: "{}", publication: Publication(version: "v1", grace: .seconds(60))))
            #expect(try await queue.currentVersion(slot: "slot-1")?.id == "v1")
            #expect(try await trash(queue).isEmpty)

            let second = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: "p2", token: second.token, version: version("v2")))
            #expect(try await queue.beginPublishing(id: "p2", token: second.token) == .ok)
            #expect(try await queue.complete(id: "p2", token: second.token, dataJSON: "{}", publication: Publication(version: "v2", grace: .seconds(60))))
            let current = try #require(try await queue.currentVersion(slot: "slot-1"))
            #expect(current.id == "v2" && current.url == "file:///out/f/v/v2/" && current.stableMaster == "file:///out/f/hls/master.m3u8")
            let due = try #require(try await trash(queue)["v1"])
            #expect(abs(due - (try await nowMilliseconds(queue) + 60_000)) < 2_000)
            // Not due yet: the janitor takes nothing.
            let (none, nextDue) = try await queue.takeTrash(max: 10, lease: .seconds(30))
            #expect(none.isEmpty)
            #expect(try #require(nextDue) > .seconds(58))
        }
    }

    @Test("every end but completion trashes the attempt's version: failure, retry, cancel, release; a stall only after the fence")
    func unpublishedEndsTrash() async throws {
        try await base.withQueue({ $0.lease = .milliseconds(300) }) { queue, _ in
            try await base.add(queue, base.job("f1", maxAttempts: 1), base.job("r1"), base.job("c1"), base.job("h1"), base.job("s1"))
            let deliveries = try await queue.fetch(max: 5).deliveries
            #expect(deliveries.count == 5)
            for delivery in deliveries { #expect(try await queue.openVersion(id: delivery.id, token: delivery.token, version: version("v-" + delivery.id))) }
            func token(_ id: String) -> String { deliveries.first { $0.id == id }!.token }
            #expect(try await queue.fail(id: "f1", token: token("f1"), code: "X", message: "m", retryable: false, retryDelay: .zero) == .dead)
            if case .retryScheduled = try await queue.fail(id: "r1", token: token("r1"), code: "X", message: "m", retryable: true, retryDelay: .seconds(60)) {} else {
                Issue.record("r1 not scheduled for a retry")
            }
            #expect(try await queue.cancel(id: "c1") == .cancelRequested)
            #expect(try await queue.acknowledgeCancel(id: "c1", token: token("c1")))
            #expect(try await queue.release(id: "h1", token: token("h1")))
            let now = try await nowMilliseconds(queue)
            let trashed = try await trash(queue)
            #expect(Set(trashed.keys) == ["v-f1", "v-r1", "v-c1", "v-h1"])
            #expect(trashed.values.allSatisfy { $0 <= now + 50 })
            // s1's lease runs out: recovered as a stall, its version trashed but due only after the fence (one lease).
            try await Task.sleep(for: .milliseconds(400))
            let again = try await queue.fetch(max: 5).deliveries
            #expect(again.map(\.id).contains("s1"))
            let stalled = try #require(try await trash(queue)["v-s1"])
            // Due one fence (the lease, 300 ms) after the recovery that trashed it, on Redis's clock.
            let trashedAt = try #require(Double(try await queue.client.command(["HGET", queue.keyBase + "version:v-s1", "trashed_at"]).string ?? ""))
            #expect(stalled == trashedAt + 300)
            #expect(trashedAt <= (try await nowMilliseconds(queue)))
            // The stalled delivery can no longer open or publish anything.
            #expect(try await !queue.openVersion(id: "s1", token: token("s1"), version: version("v-late")))
            #expect(try await queue.beginPublishing(id: "s1", token: token("s1")) == .stale)
            #expect(try await !queue.complete(id: "s1", token: token("s1"), dataJSON: "{}", publication: Publication(version: "v-s1", grace: .zero)))
            #expect(try await queue.currentVersion(slot: "slot-1") == nil)
        }
    }

    @Test("per-asset events come once, just before the terminal event, only when the job completes")
    func assetsWithTerminal() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("k1", type: "keyframes"))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: "k1", token: delivery.token, version: version("vk")))
            #expect(try await queue.beginPublishing(id: "k1", token: delivery.token) == .ok)
            // An event type goes into the event's JSON as it is: anything but a plain name is
            // refused before the job is touched.
            let quoted = Publication(version: "vk", grace: .seconds(1), assets: [Publication.AssetEvent(type: #"Key"Ready"#, dataJSON: "{}")])
            await #expect(throws: RedisError.self) { try await queue.complete(id: "k1", token: delivery.token, dataJSON: "{}", publication: quoted) }
            #expect(try await queue.record(id: "k1")?.state == .active)
            let assets = (0..<3).map { Publication.AssetEvent(type: "KeyframeReady", dataJSON: #"{"index":\#($0)}"#) }
            let publication = Publication(version: "vk", grace: .seconds(1), assets: assets)
            #expect(try await queue.complete(id: "k1", token: delivery.token, dataJSON: #"{"count":3}"#, publication: publication))
            // A retry after a lost reply: same answer, nothing appended twice.
            #expect(try await queue.complete(id: "k1", token: delivery.token, dataJSON: #"{"count":3}"#, publication: publication))
            #expect(try await base.eventTypes(queue, job: "k1") == ["JobQueued", "JobStarted", "KeyframeReady", "KeyframeReady", "KeyframeReady", "KeyframesCompleted"])
        }
    }

    @Test("one publisher per slot at a time; a job asked to cancel publishes nothing")
    func publishingPermission() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("a"), base.job("b"), base.job("c"))
            let deliveries = try await queue.fetch(max: 3).deliveries
            func token(_ id: String) -> String { deliveries.first { $0.id == id }!.token }
            for id in ["a", "b"] { #expect(try await queue.openVersion(id: id, token: token(id), version: version("v" + id))) }
            #expect(try await queue.openVersion(id: "c", token: token("c"), version: version("vc", slot: "other")))
            #expect(try await queue.beginPublishing(id: "a", token: token("a")) == .ok)
            #expect(try await queue.beginPublishing(id: "b", token: token("b")) == .busy)
            #expect(try await queue.beginPublishing(id: "c", token: token("c")) == .ok)  // another slot
            #expect(try await queue.complete(id: "a", token: token("a"), dataJSON: "{}", publication: Publication(version: "va", grace: .seconds(5))))
            #expect(try await queue.beginPublishing(id: "b", token: token("b")) == .ok)
            #expect(try await queue.cancel(id: "c") == .cancelRequested)
            try await base.add(queue, base.job("d"))
            let d = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.beginPublishing(id: "d", token: d.token) == .noVersion)
            #expect(try await queue.cancel(id: "d") == .cancelRequested)
            #expect(try await queue.openVersion(id: "d", token: d.token, version: version("vd", slot: "third")))
            #expect(try await queue.beginPublishing(id: "d", token: d.token) == .cancel)
        }
    }

    @Test("janitor: due versions are held for a lease, a failure backs off, done forgets; the current version is never handed out")
    func janitorQueueSide() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("j1", maxAttempts: 1))
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.openVersion(id: "j1", token: delivery.token, version: version("vj")))
            #expect(try await queue.fail(id: "j1", token: delivery.token, code: "X", message: "m", retryable: false, retryDelay: .zero) == .dead)
            let taken = try await queue.takeTrash(max: 10, lease: .seconds(30)).versions
            #expect(taken == [TrashedVersion(id: "vj", url: "file:///out/f/v/vj/", stableMaster: "file:///out/f/hls/master.m3u8", currentVersion: nil, currentURL: nil, slot: "slot-1")])
            #expect(try await queue.takeTrash(max: 10, lease: .seconds(30)).versions.isEmpty, "held by the first janitor")
            #expect(try await queue.trashFailed(version: "vj", base: .milliseconds(500), cap: .seconds(5), error: "S3 away") == 1)
            // Bounds on Redis's clock taken on both sides of the call, so a loaded machine cannot make it fail.
            let before = try await nowMilliseconds(queue)
            #expect(try await queue.trashFailed(version: "vj", base: .milliseconds(500), cap: .seconds(5), error: "S3 away") == 2)
            let after = try await nowMilliseconds(queue)
            let due = try #require(try await trash(queue)["vj"])
            #expect(due >= before.rounded(.down) + 1000 && due <= after.rounded(.up) + 1000, "the second failure waits twice the base: due \(due - before) ms after the call began")
            try await Task.sleep(for: .milliseconds(max(0, Int(due - (try await nowMilliseconds(queue)))) + 50))
            #expect(try await queue.takeTrash(max: 10, lease: .seconds(30)).versions.map(\.id) == ["vj"])
            #expect(try await queue.trashDeleted(version: "vj"))
            #expect(try await trash(queue).isEmpty)
            #expect(try await queue.client.command(["EXISTS", queue.keyBase + "version:vj"]).integer == 0)
            #expect(try await queue.statistics()["versions_deleted"] == 1)
        }
    }
}
