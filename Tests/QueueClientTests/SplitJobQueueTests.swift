import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// Split jobs in the queue: parts are ordinary jobs with their own leases and retries, handed out
/// longest first (parents with the most work left first); the parent waits holding no slot and
/// comes back for its stitch when the last part completes; a part that fails for good fails the
/// parent; cancelling the parent cancels its parts.
@Suite("Split jobs in the queue")
struct SplitJobQueueTests {
    let base = JobQueueTests()

    func version(_ id: String) -> OutputVersionRecord {
        OutputVersionRecord(id: id, url: "file:///out/f/v/\(id)/", slot: "slot-\(id)", stableMaster: "file:///out/f/hls/master.m3u8")
    }

    /// Takes the parent, records its version and splits it into parts of the given seconds (the last one "audio").
    func split(_ queue: JobQueue, _ id: String, chunks: [Int], audio: Bool = true, delivery: Delivery? = nil) async throws -> Delivery {
        let taken: Delivery? = if let delivery { delivery } else { try await queue.fetch(max: 1).deliveries.first { $0.id == id } }
        let parent = try #require(taken)
        #expect(try await queue.openVersion(id: id, token: parent.token, version: version("v-" + id)))
        var parts = chunks.enumerated().map { index, seconds in
            JobPart(id: "\(id):c\(index)", type: "transcode_chunk", work: .seconds(seconds), payload: "{}", asset: String(index))
        }
        if audio { parts.append(JobPart(id: "\(id):audio", type: "transcode_audio", work: .seconds(1), payload: "{}", asset: "audio")) }
        #expect(try await queue.fanOut(id: id, token: parent.token, eventJSON: #"{"chunks":\#(chunks.count)}"#, parts: parts) == .accepted)
        return parent
    }

    @Test("parts go out longest first, the parent with the most work left first; the last one sends the parent to its stitch")
    func fanOutAndBarrier() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("small", type: "transcode"), base.job("big", type: "transcode"))
            let parents = try await queue.fetch(max: 2).deliveries
            _ = try await split(queue, "small", chunks: [30, 10], delivery: parents.first { $0.id == "small" })
            _ = try await split(queue, "big", chunks: [30, 30, 20], delivery: parents.first { $0.id == "big" })
            #expect(try await queue.record(id: "big")?.state == .waitingChildren)
            #expect(try await queue.counts().active == 0, "a waiting parent holds no slot")
            // big (81 s left) before small (41 s); within a parent, longest first.
            let order = try await queue.fetch(max: 7).deliveries.map(\.id)
            #expect(order == ["big:c0", "big:c1", "big:c2", "big:audio", "small:c0", "small:c1", "small:audio"], "\(order)")
            // Complete small's parts: its last completion puts it back, at the front, for its stitch.
            for id in ["small:c0", "small:c1", "small:audio"] {
                let record = try #require(try await queue.record(id: id))
                let token = try #require(record.fields["token"])
                let asset = record.fields["asset"] ?? ""
                let event = Publication.AssetEvent(type: "TranscodeChunkCompleted", dataJSON: #"{"asset_id":"\#(asset)"}"#)
                #expect(try await queue.complete(id: id, token: token, dataJSON: #"{"asset":"\#(asset)"}"#,
                                                 publication: Publication(version: nil, grace: .zero, assets: [event])))
                #expect(try await queue.record(id: "small")?.state == (id == "small:audio" ? .waiting : .waitingChildren))
            }
            let stitch = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(stitch.id == "small" && stitch.stage == "stitch" && stitch.attempt == 2)
            let parts = try await queue.parts(of: "small")
            #expect(parts.map(\.asset) == ["0", "1", "audio"] && parts.allSatisfy { $0.state == .completed && $0.resultJSON.contains("asset") })
            // The stitch publishes the version the first run recorded.
            #expect(try await queue.beginPublishing(id: "small", token: stitch.token) == .ok)
            #expect(try await queue.complete(id: "small", token: stitch.token, dataJSON: "{}", publication: Publication(version: "v-small", grace: .zero)))
            #expect(try await queue.currentVersion(slot: "slot-v-small")?.id == "v-small")
            let events = try await base.events(queue).filter { $0["job_id"] as? String == "small" }.compactMap { $0["type"] as? String }
            #expect(events.filter { $0 == "TranscodeChunkCompleted" }.count == 3)
            #expect(events.contains("TranscodeSplit") && events.last == "TranscodeCompleted")
            #expect(events.filter { $0.hasSuffix("Completed") && !$0.hasPrefix("TranscodeChunk") } == ["TranscodeCompleted"])
            // Parts' own lifecycle events name their parent.
            let started = try await base.events(queue).first { $0["job_id"] as? String == "small:c0" && $0["type"] as? String == "JobStarted" }
            #expect(started?["parent_id"] as? String == "small")
        }
    }

    @Test("a part's progress is its parent's (sum of the parts'), not events of its own")
    func progress() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("p", type: "transcode"))
            _ = try await split(queue, "p", chunks: [10, 10], audio: false)
            let parts = try await queue.fetch(max: 2).deliveries
            #expect(try await queue.progress(id: parts[0].id, token: parts[0].token, json: #"{"percent":50}"#))
            let progress = try await base.events(queue).filter { $0["type"] as? String == "JobProgress" }
            #expect(progress.count == 1 && progress[0]["job_id"] as? String == "p")
            #expect((progress[0]["data"] as? [String: Any])?["percent"] as? Double == 25)
        }
    }

    @Test("a part that fails for good fails its parent with the part's code; the other parts stop; nothing is published")
    func partFailureFailsParent() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("f", type: "transcode", maxAttempts: 1))
            _ = try await split(queue, "f", chunks: [10, 10, 10])
            let running = try await queue.fetch(max: 2).deliveries
            let failing = running[0]
            #expect(try await queue.fail(id: failing.id, token: failing.token, code: "MEDIA_INPUT_CORRUPT", message: "bad GOP",
                                         retryable: false, retryDelay: .zero) == .dead)
            let parent = try #require(try await queue.record(id: "f"))
            #expect(parent.state == .dead && parent.errorCode == "MEDIA_INPUT_CORRUPT" && parent.errorMessage?.contains("bad GOP") == true)
            let terminal = try await base.events(queue).filter { $0["job_id"] as? String == "f" && ($0["type"] as? String)?.hasPrefix("Transcode") == true }
            let failed = try #require(terminal.last)
            #expect(failed["type"] as? String == "TranscodeFailed" && (failed["data"] as? [String: Any])?["chunk"] as? String == String(failing.id.last!))
            // The other running part is asked to stop; the waiting ones end at once.
            #expect(try await queue.heartbeat([(id: running[1].id, token: running[1].token)]) == [.cancelRequested])
            let states = try await queue.parts(of: "f").map(\.state)
            #expect(states.filter { $0 == .canceled }.count == 2 && states.contains(.dead) && states.contains(.active), "\(states)")
            #expect(try await queue.acknowledgeCancel(id: running[1].id, token: running[1].token))
            // The parent's version is trash: nothing of the job is published.
            #expect(try await queue.client.command(["ZSCORE", queue.keyBase + "trash", "v-f"]).string != nil)
            #expect(try await queue.currentVersion(slot: "slot-v-f") == nil)
            #expect(try await queue.fetch(max: 5).deliveries.isEmpty)
            // dead retry starts it over (its parts are not retried one by one).
            #expect(try await !queue.retryDead(id: failing.id))
            #expect(try await queue.retryDead(id: "f"))
            let again = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(again.id == "f" && again.stage == nil)
        }
    }

    @Test("cancelling a split job (or one of its parts) cancels every part; one TranscodeCanceled")
    func cancelParent() async throws {
        try await base.withQueue { queue, _ in
            try await base.add(queue, base.job("c", type: "transcode"))
            _ = try await split(queue, "c", chunks: [10, 10])
            let running = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(try await queue.cancel(id: "c:c1") == .canceled)
            #expect(try await queue.record(id: "c")?.state == .canceled)
            #expect(try await queue.heartbeat([(id: running.id, token: running.token)]) == [.cancelRequested])
            #expect(try await queue.acknowledgeCancel(id: running.id, token: running.token))
            let terminal = try await base.events(queue).filter { $0["job_id"] as? String == "c" }.compactMap { $0["type"] as? String }
                .filter { $0.hasSuffix("Canceled") }
            #expect(terminal.filter { !$0.hasPrefix("TranscodeChunk") } == ["TranscodeCanceled"])
            #expect(try await queue.parts(of: "c").allSatisfy { $0.state == .canceled })
            #expect(try await queue.fetch(max: 5).deliveries.isEmpty)
        }
    }

    @Test("a stalled part goes back to its parent's queue of parts; a stalled stitch keeps the parts' version")
    func stalls() async throws {
        try await base.withQueue({ $0.lease = .milliseconds(200) }) { queue, _ in
            try await base.add(queue, base.job("s", type: "transcode"))
            _ = try await split(queue, "s", chunks: [10], audio: false)
            let first = try #require(try await queue.fetch(max: 1).deliveries.first)
            try await Task.sleep(for: .milliseconds(300))
            let second = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(second.id == first.id && second.attempt == 2)
            #expect(try await queue.complete(id: second.id, token: second.token, dataJSON: "{}"))
            let stitch = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(stitch.stage == "stitch")
            try await Task.sleep(for: .milliseconds(300))
            let again = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(again.id == "s" && again.stage == "stitch")
            // The version the parts filled was not trashed by the stall.
            #expect(try await queue.client.command(["ZSCORE", queue.keyBase + "trash", "v-s"]).string == nil)
            #expect(try await queue.complete(id: "s", token: again.token, dataJSON: "{}", publication: Publication(version: "v-s", grace: .zero)))
        }
    }

    /// Commands Redis executed so far (scripts' inner calls included; the INFO itself left out).
    func commandsExecuted(_ queue: JobQueue) async throws -> Int {
        let text = try await queue.client.command(["INFO", "commandstats"]).string ?? ""
        return text.split(whereSeparator: \.isNewline).reduce(0) { total, line in
            guard line.hasPrefix("cmdstat_"), !line.hasPrefix("cmdstat_info:"), !line.hasPrefix("cmdstat_evalsha:"),
                  let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first, let count = Int(calls) else { return total }
            return total + count
        }
    }

    @Test("a part's completion costs Redis the same however many siblings it has: 400 parts cost per part what 20 do")
    func partCostIsFlat() async throws {
        try await base.withQueue { queue, _ in
            var perPart: [Int: Double] = [:]
            try await base.add(queue, base.job("p20", type: "transcode"), base.job("p400", type: "transcode"))
            let parents = try await queue.fetch(max: 2).deliveries
            for count in [20, 400] {
                _ = try await split(queue, "p\(count)", chunks: Array(repeating: 6, count: count), audio: false,
                                    delivery: parents.first { $0.id == "p\(count)" })
            }
            let parts = try await queue.fetch(max: 420).deliveries
            #expect(parts.count == 420)
            for count in [20, 400] {
                let id = "p\(count)"
                let before = try await commandsExecuted(queue)
                for part in parts where part.id.hasPrefix(id + ":") {
                    let event = Publication.AssetEvent(type: "TranscodeChunkCompleted", dataJSON: "{}")
                    #expect(try await queue.complete(id: part.id, token: part.token, dataJSON: "{}",
                                                     publication: Publication(version: nil, grace: .zero, assets: [event])))
                }
                perPart[count] = Double(try await commandsExecuted(queue) - before) / Double(count)
                #expect(try await queue.record(id: id)?.state == .waiting, "the last part sends its job to the stitch")
            }
            // Checking every sibling on every completion made it 20 times as much per part at 400.
            let small = try #require(perPart[20]), large = try #require(perPart[400])
            #expect(large <= small * 1.25, "commands per part: \(small) with 20 parts, \(large) with 400")
        }
    }
}
