import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// redis-server SIGKILLed in the middle of a run (not a graceful restart): what is lost or doubled
/// depends only on what Redis had fsynced. With `appendfsync always` nothing a client was told is
/// lost or doubled: every job whose RPUSH was acknowledged ends exactly once, and a consumer
/// reading the stream live sees exactly one terminal event per job. With `everysec` (Redis's
/// default) the last second before the crash can go: the run measures it and every job that
/// survived still ends exactly once.
@Suite("Redis SIGKILLed mid-run", .serialized)
struct RedisCrashTests {
    struct Figures: CustomStringConvertible {
        var fsync = "", jobs = 0, acknowledged = 0, lost = 0, seenTwice = 0, vanished = 0
        var description: String {
            "redis SIGKILL (appendfsync \(fsync)): \(jobs) jobs, \(acknowledged) pushes acknowledged, \(lost) of them lost, "
                + "\(seenTwice) jobs whose terminal event a live consumer saw twice, \(vanished) events seen live that the stream no longer has"
        }
    }

    /// Reads the event stream as a consumer service would, live, through reconnects.
    actor LiveConsumer {
        private(set) var seen: [(id: String, job: String, type: String)] = []
        private var last = "0"
        private var stopped = false

        func stop() { stopped = true }

        func run(url: String, stream: String) async {
            let client = RedisClient(url: try! RedisURL(parsing: url), options: .init(connectTimeout: .milliseconds(300), commandTimeout: .seconds(2)))
            while !stopped {
                if let reply = try? await client.command(["XREAD", "COUNT", "1000", "STREAMS", stream, last]) {
                    for entry in reply.array?.first?.array?[1].array ?? [] {
                        guard let id = entry.array?[0].string else { continue }
                        let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
                        var byName: [String: String] = [:]
                        for index in stride(from: 0, to: fields.count - 1, by: 2) { byName[fields[index]] = fields[index + 1] }
                        seen.append((id, byName["job_id"] ?? "", byName["type"] ?? ""))
                        last = id
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            await client.close()
        }
    }

    static func isTerminal(_ type: String) -> Bool { type.hasSuffix("Completed") || type.hasSuffix("Failed") || type.hasSuffix("Canceled") }

    @Test("SIGKILL of redis-server: with appendfsync always nothing acknowledged is lost or doubled; everysec loses at most its window",
          arguments: ["always", "everysec"])
    func crash(fsync: String) async throws {
        let directory = try makeTestDirectory("redis-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        var figures = Figures(fsync: fsync)
        try await RedisServer.with(.init(appendOnly: true, appendFsync: fsync)) { redis in
            let settings = ["MW_LEASE_S": "2", "MW_RETRY_BASE_S": "0.05", "MW_RETRY_CAP_S": "0.2", "MW_GRACE_S": "1", "MW_CONCURRENCY": "2",
                            "MW_MAX_STALLS": "10"]
            var workers: [WorkerProcess] = []
            defer { for worker in workers { worker.process.signal(SIGKILL) } }
            for index in 0..<3 { workers.append(try WorkerProcess.start(redisURL: redis.url, id: "crash-\(index)", directory: directory, environment: settings)) }
            for worker in workers { #expect(await worker.waitUntilReady(), "\(worker.logText)") }
            let probe = try QueueProbe(redisURL: redis.url)
            let consumer = LiveConsumer()
            let reading = Task { await consumer.run(url: redis.url, stream: probe.queue.eventsKey) }

            // 120 short jobs pushed one by one over about 6 s; the crash comes after the 50th push.
            let count = 120
            figures.jobs = count
            var acknowledged: Set<String> = []
            var rng = SystemRandomNumberGenerator()
            for index in 0..<count {
                let id = "c\(index)"
                if index == 50 {
                    await redis.crash()
                    try await Task.sleep(for: .milliseconds(500))
                    try await redis.restart()
                }
                let job = #"{"id":"\#(id)","type":"noop","max_attempts":25,"options":{"duration_ms":\#(Int.random(in: 20...400, using: &rng))}}"#
                if (try? await probe.push(job)) != nil { acknowledged.insert(id) }
                try await Task.sleep(for: .milliseconds(50))
            }
            figures.acknowledged = acknowledged.count

            // Every job Redis still knows ends; nothing stays waiting or running.
            func known() async -> [String: JobRecord] {
                var records: [String: JobRecord] = [:]
                for id in acknowledged { if let record = try? await probe.queue.record(id: id) { records[id] = record } }
                return records
            }
            let settled = await eventually(.seconds(60)) {
                let records = await known()
                let counts = try await probe.queue.counts()
                return records.values.allSatisfy { $0.state?.isTerminal == true } && counts.inbox == 0 && counts.waiting == 0 && counts.active == 0
            }
            let countsNow = try? await probe.queue.counts()
            #expect(settled, "\(String(describing: countsNow))")
            try await Task.sleep(for: .milliseconds(300))
            await consumer.stop()
            await reading.value

            let records = await known()
            figures.lost = acknowledged.subtracting(records.keys).count
            let live = await consumer.seen
            var terminalSeen: [String: Int] = [:]
            for event in live where Self.isTerminal(event.type) { terminalSeen[event.job, default: 0] += 1 }
            figures.seenTwice = terminalSeen.values.filter { $0 > 1 }.count
            let kept = Set(((try await probe.queue.client.command(["XRANGE", probe.queue.eventsKey, "-", "+"])).array ?? []).compactMap { $0.array?[0].string })
            figures.vanished = live.filter { !kept.contains($0.id) }.count
            // In the stream as Redis has it now: exactly one terminal event per job that exists.
            let terminal = try await probe.terminalEvents()
            for id in records.keys { #expect(terminal[id]?.count == 1, "\(id): \(terminal[id] ?? [])") }
            if fsync == "always" {
                #expect(figures.lost == 0 && figures.seenTwice == 0 && figures.vanished == 0, "\(figures)")
                for id in acknowledged { #expect(records[id]?.state == .completed, "\(id): \(String(describing: records[id]?.state))") }
            } else {
                // The window of everysec: about a second of writes before the crash, no more.
                #expect(figures.lost <= 25, "\(figures)")
            }
            await probe.queue.client.close()
        }
        print(figures)
    }
}
