import Foundation
import QueueClient
import RedisClient
import Synchronization
import TestSupport
import Testing

/// `media-worker run` processes and the operator commands pointed at a Redis Cluster or a
/// Sentinel group by `MW_REDIS_URL` alone, with a master SIGKILLed mid-run.
@Suite("Worker processes on Redis Cluster and Sentinel", .serialized)
struct RedisTopologyProcessTests {
    /// Pushes with redis-py through `scripts/test/mw_redis.py`, a producer nobody here wrote the
    /// client of, given the same URL as the workers.
    static func pushWithRedisPy(url: String, queue: String, jobs: [String], waitReplicas: Int, directory: URL) async throws {
        let file = directory.appendingPathComponent("jobs-\(queue).jsonl")
        try jobs.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        let result = try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent("test/mw_redis.py").path, url, queue, file.path,
                                                          "--wait-replicas", String(waitReplicas)], timeout: .seconds(120))
        #expect(result.succeeded && result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(jobs.count), "\(result.stdout) \(result.stderr)")
    }

    /// Polls every worker's `/readyz` until stopped: which of them were seen not ready.
    final class ReadinessWatch: Sendable {
        private let unready = Mutex<Set<String>>([])
        private let stopped = Mutex(false)

        func run(_ workers: [(id: String, port: Int)]) async {
            while !stopped.withLock({ $0 }) {
                for worker in workers where (try? HTTPProbe.get(port: worker.port, path: "/readyz").status) != 200 {
                    _ = unready.withLock { $0.insert(worker.id) }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }

        func stop() { stopped.withLock { $0 = true } }
        var seenUnready: Set<String> { unready.withLock { $0 } }
    }

    static let settings = fastWorkerSettings.merging([
        "MW_LEASE_S": "3", "MW_MAX_STALLS": "20", "MW_CONCURRENCY": "4", "MW_REDIS_WAIT_REPLICAS": "1",
    ]) { $1 }

    /// Starts one `media-worker run` per id on `url` (all stopped if one cannot start).
    static func startWorkers(_ ids: [String], url: String, directory: URL, environment: [String: String]) throws -> [WorkerProcess] {
        var workers: [WorkerProcess] = []
        do {
            for id in ids { workers.append(try WorkerProcess.start(redisURL: url, id: id, directory: directory, environment: environment)) }
        } catch {
            for worker in workers { worker.process.signal(SIGKILL) }
            throw error
        }
        return workers
    }

    /// Every worker reports ready within 30 s (`moment` says when, for the failure message).
    static func expectReady(_ workers: [WorkerProcess], _ moment: String) async {
        for worker in workers {
            let ready = await worker.waitUntilReady(timeout: .seconds(30))
            #expect(ready, "worker \(worker.id) not ready \(moment): \(worker.logText.suffix(2000))")
        }
    }

    @Test("three workers on a cluster (redis+cluster://), three queues on three masters, one master SIGKILLed: every job ends once; the operator commands use the same URL",
          .timeLimit(.minutes(5)))
    func clusterWorkers() async throws {
        let directory = try makeTestDirectory("cluster-workers")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisCluster.with { cluster in
            let names = try await cluster.queueNamesOnDifferentMasters(slot: ClusterSlots.slot(of:))
            try #require(names.count == 3)
            let workers = try Self.startWorkers(["w0", "w1", "w2"], url: cluster.url, directory: directory,
                                                environment: Self.settings.merging(["MW_QUEUES": names.joined(separator: ",")]) { $1 })
            defer { for worker in workers { worker.process.signal(SIGKILL) } }
            await Self.expectReady(workers, "at start")
            let probes = try names.map { try QueueProbe(redisURL: cluster.url, queue: $0) }
            let perQueue = 100
            // The failover queue is pushed last and its jobs last long enough (100 × 1.5 s over 12
            // slots: 12.5 s of work) for the kill to come mid-run however slow the pushes are.
            for index in [0, 2, 1] {
                let probe = probes[index]
                let duration = index == 1 ? 1500 : 30
                let jobs = (0..<perQueue).map { #"{"id":"c\#(index)-\#($0)","type":"noop","options":{"duration_ms":\#(duration)}}"# }
                try await Self.pushWithRedisPy(url: cluster.url, queue: probe.queue.name, jobs: jobs, waitReplicas: 1, directory: directory)
            }
            #expect(await eventually(.seconds(60)) { try await probes[1].terminalEvents().count >= 10 })
            let victim = try await cluster.master(of: ClusterSlots.slot(of: names[1]))
            let endedBeforeKill = try await probes[1].terminalEvents().count
            #expect(endedBeforeKill < perQueue, "the kill must come while the queue still has work")
            await victim.crash()
            #expect(await eventually(.seconds(60)) { try await cluster.master(of: ClusterSlots.slot(of: names[1])).port != victim.port })
            let allEnded = await eventually(.seconds(120), every: .milliseconds(500)) {
                try await probes.asyncMap { try await $0.terminalEvents().count }.allSatisfy { $0 == perQueue }
            }
            let endedPerQueue = try await probes.asyncMap { try await $0.terminalEvents().count }
            #expect(allEnded, "\(endedPerQueue) of \(perQueue) per queue ended")
            for (index, probe) in probes.enumerated() {
                let terminal = try await probe.terminalEvents()
                #expect(terminal.count == perQueue, "queue \(index)")
                #expect(terminal.values.allSatisfy { $0 == ["NoopCompleted"] }, "queue \(index): \(terminal.filter { $0.value != ["NoopCompleted"] })")
                let counts = try await probe.queue.counts()
                #expect(counts.waiting == 0 && counts.active == 0 && counts.inbox == 0, "queue \(index): \(counts)")
            }
            await Self.expectReady(workers, "after the failover")

            // The operator commands take the same URL.
            let cli = try ProjectPaths.executable("media-worker")
            let env = ["MW_REDIS_URL": cluster.url]
            let enqueued = try await CommandRunner.run(cli, ["enqueue", "--queue", names[2], #"{"type":"noop"}"#], environment: env)
            #expect(enqueued.succeeded, "\(enqueued.stderr)")
            let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(await eventually(.seconds(20)) { try await probes[2].queue.record(id: id)?.state == .completed })
            let status = try await CommandRunner.run(cli, ["status", "--queue", names[2], id], environment: env)
            #expect(status.stdout.contains(#""state":"completed""#), "\(status.stdout) \(status.stderr)")
            let listed = try await CommandRunner.run(cli, ["workers"], environment: env)
            #expect(["w0", "w1", "w2"].allSatisfy { listed.stdout.contains(#""id":"\#($0)""#) }, "\(listed.stdout) \(listed.stderr)")
            for probe in probes { await probe.queue.client.close() }
        }
    }

    @Test("two workers through sentinels (redis+sentinel://), the master SIGKILLed mid-run: readiness drops while there is no master and comes back; jobs pushed with WAIT 1 end exactly once",
          .timeLimit(.minutes(4)))
    func sentinelWorkers() async throws {
        let directory = try makeTestDirectory("sentinel-workers")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisSentinelGroup.with { group in
            let workers = try Self.startWorkers(["s0", "s1"], url: group.url, directory: directory, environment: Self.settings)
            defer { for worker in workers { worker.process.signal(SIGKILL) } }
            await Self.expectReady(workers, "at start")
            let probe = try QueueProbe(redisURL: group.url)
            let total = 100
            try await Self.pushWithRedisPy(url: group.url, queue: "default", jobs: (0..<total).map { #"{"id":"s\#($0)","type":"noop","options":{"duration_ms":300}}"# },
                                           waitReplicas: 1, directory: directory)
            #expect(await eventually(.seconds(60)) { try await probe.terminalEvents().count >= 10 })
            let endedBeforeKill = try await probe.terminalEvents().count
            #expect(endedBeforeKill < total, "the kill must come while the queue still has work")
            let readiness = ReadinessWatch()
            let addresses = workers.map { (id: $0.id, port: $0.port) }
            async let watched: Void = readiness.run(addresses)
            await group.master.crash()
            let promoted = await eventually(.seconds(60), every: .milliseconds(200)) {
                await group.namedMasterPorts().allSatisfy { $0 == group.replica.port }
            }
            #expect(promoted)
            let allEnded = await eventually(.seconds(90), every: .milliseconds(500)) { try await probe.terminalEvents().count == total }
            let ended = try await probe.terminalEvents().count
            #expect(allEnded, "\(ended) of \(total) ended")
            readiness.stop()
            await watched
            #expect(readiness.seenUnready == Set(workers.map(\.id)), "readiness did not follow the outage: \(readiness.seenUnready)")
            await Self.expectReady(workers, "after the failover")
            let terminal = try await probe.terminalEvents()
            #expect(terminal.count == total)
            #expect(terminal.values.allSatisfy { $0 == ["NoopCompleted"] }, "\(terminal.filter { $0.value != ["NoopCompleted"] })")
            let counts = try await probe.queue.counts()
            #expect(counts.waiting == 0 && counts.active == 0 && counts.inbox == 0, "\(counts)")
            let status = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["status", "s0"], environment: ["MW_REDIS_URL": group.url])
            #expect(status.stdout.contains(#""state":"completed""#), "\(status.stdout) \(status.stderr)")
            await probe.queue.client.close()
        }
    }
}
