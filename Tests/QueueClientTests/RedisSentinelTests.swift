import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The queue through Sentinel: a master, a replica and three sentinels started by the test.
@Suite("Redis Sentinel", .serialized)
struct RedisSentinelTests {
    @Test("the master SIGKILLed mid-run: the client follows the sentinels to the promoted replica; jobs pushed with WAIT 1 all end exactly once",
          .timeLimit(.minutes(4)))
    func failover() async throws {
        try await RedisSentinelGroup.with { group in
            let url = try RedisURL(parsing: group.url)
            let client = RedisClient(url: url)
            #expect(try await client.command(["PING"]) == .status("PONG"))
            var settings = QueueOptions()
            settings.lease = .seconds(3)
            settings.maxStalls = 50
            let options = settings
            let queue = JobQueue(name: "s", options: options, client: client, actor: "test")
            let total = 200
            try await RedisClusterTests.push(queue, ids: (0..<total).map { "s-\($0)" })
            let stop = Flag()
            // The consumers hold at half the jobs until the kill: it comes while work is left, however
            // a loaded machine delays this task.
            let gate = KillGate(holdAt: total / 2)
            defer { stop.set() }
            try await withThrowingTaskGroup(of: Void.self) { consumers in
                for worker in 0..<2 {
                    consumers.addTask {
                        let own = RedisClient(url: url)
                        await RedisClusterTests.consume(JobQueue(name: "s", options: options, client: own, actor: "w\(worker)"), worker: "w\(worker)",
                                                        pace: .milliseconds(40), gate: gate, until: { stop.isSet })
                        await own.close()
                    }
                }
                let underWay = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < underWay, gate.completedCount < 10 { try await Task.sleep(for: .milliseconds(50)) }
                let endedBeforeKill = try await RedisClusterTests.terminalCounts(queue).count
                #expect(endedBeforeKill >= 10 && endedBeforeKill < total, "the kill must come while the queue is under way and still has work")
                await group.master.crash()
                gate.killed()
                let promoted = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < promoted, await group.namedMasterPorts().contains(where: { $0 != group.replica.port }) {
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(await group.namedMasterPorts().allSatisfy { $0 == group.replica.port })
                trace("sentinels promoted the replica; \(endedBeforeKill) jobs had ended before the kill")
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline, ((try? await RedisClusterTests.terminalCounts(queue).count) ?? 0) < total {
                    try await Task.sleep(for: .milliseconds(250))
                }
                stop.set()
                try await consumers.waitForAll()
            }
            let counts = try await RedisClusterTests.terminalCounts(queue)
            #expect(counts.count == total, "\(counts.count) of \(total) ended")
            #expect(counts.values.allSatisfy { $0 == 1 }, "ended twice: \(counts.filter { $0.value > 1 }.keys.sorted())")
            // The client talks to the new master now.
            #expect(try await client.command(["ROLE"]).array?.first?.string == "master")
            await client.close()
        }
    }

    @Test("a switch the sentinels make (SENTINEL FAILOVER) moves an idle client on +switch-master: its next write never meets the old master",
          .timeLimit(.minutes(4)))
    func switchMasterMessage() async throws {
        try await RedisSentinelGroup.with { group in
            let client = RedisClient(url: try RedisURL(parsing: group.url))
            #expect(try await client.command(["SET", "before", "1"]) == .status("OK"))
            #expect(await client.currentServer == .tcp(host: "127.0.0.1", port: group.master.port))
            // A graceful switch: the old master stays up as a replica, so only the message (not
            // an error on the connection) can tell the client.
            let failover = try await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"),
                ["-h", "127.0.0.1", "-p", String(group.sentinelPorts[0]), "SENTINEL", "FAILOVER", RedisSentinelGroup.masterName], timeout: .seconds(10))
            #expect(failover.stdout.contains("OK"), "\(failover.stdout) \(failover.stderr)")
            let switched = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < switched, await group.namedMasterPorts().contains(where: { $0 != group.replica.port }) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let left = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < left, await client.currentServer == .tcp(host: "127.0.0.1", port: group.master.port) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await client.currentServer != .tcp(host: "127.0.0.1", port: group.master.port), "the client still talks to the old master")
            // The sentinels turn the old master into a replica soon after: a write there would be refused (READONLY).
            let demoted = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < demoted, !((try? await group.master.cli(["ROLE"])) ?? "").hasPrefix("slave") {
                try await Task.sleep(for: .milliseconds(100))
            }
            let oldRole = try await group.master.cli(["ROLE"])
            #expect(oldRole.hasPrefix("slave"), "\(oldRole)")
            #expect(try await client.command(["SET", "after", "1"]) == .status("OK"))
            #expect(await client.currentServer == .tcp(host: "127.0.0.1", port: group.replica.port))
            await client.close()
        }
    }

    @Test("no sentinel knows the master: a topology error naming the master")
    func unknownMaster() async throws {
        try await RedisSentinelGroup.with { group in
            let client = RedisClient(url: try RedisURL(parsing: group.url.replacingOccurrences(of: RedisSentinelGroup.masterName, with: "nosuch")))
            let error = await #expect(throws: RedisError.self) { try await client.command(["PING"]) }
            #expect(error?.code == "REDIS_TOPOLOGY" && "\(error.map { "\($0)" } ?? "")".contains("nosuch"))
            await client.close()
        }
    }
}

@Suite("WAIT for replicas after terminal transitions")
struct WaitReplicasTests {
    @Test("with waitReplicas 1 a completion is on the replica when complete returns; with the replica gone it still completes, after the timeout")
    func completionReplicated() async throws {
        try await RedisServer.with(.init(appendOnly: true)) { master in
            try await RedisServer.with(.init(extraArguments: ["--replicaof", "127.0.0.1", String(master.port)])) { replica in
                let synced = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < synced, !((try? await replica.cli(["INFO", "replication"])) ?? "").contains("master_link_status:up") {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await replica.cli(["INFO", "replication"]).contains("master_link_status:up"))
                var options = QueueOptions()
                options.waitReplicas = 1
                options.waitTimeout = .seconds(10) // a loaded machine: the replica answers in milliseconds anyway
                let client = RedisClient(url: try RedisURL(parsing: master.url))
                let queue = JobQueue(name: "w", options: options, client: client, actor: "test")
                options.waitTimeout = .milliseconds(500)
                let impatient = JobQueue(name: "w", options: options, client: client, actor: "test")
                for id in ["a", "b"] {
                    try await client.command(["RPUSH", queue.inboxKey, "{}"])
                    let item = try await queue.claim(max: 1, worker: "test")[0]
                    let job = NewJob(id: id, type: "noop", priority: .normal, maxAttempts: 1, runAtMilliseconds: nil, payload: "{}", metadataJSON: "{}")
                    _ = try await queue.ingest(.jobs([job]), item: item, worker: "test")
                }
                let first = try #require(try await queue.fetch(max: 1).deliveries.first)
                #expect(try await queue.complete(id: first.id, token: first.token, dataJSON: "{}"))
                // Read from the replica at once: WAIT made the transition reach it before complete returned.
                #expect(try await replica.cli(["HGET", queue.jobKey(first.id), "state"]).trimmingCharacters(in: .whitespacesAndNewlines) == "completed")

                await replica.stop()
                let second = try #require(try await queue.fetch(max: 1).deliveries.first)
                let started = ContinuousClock.now
                #expect(try await impatient.complete(id: second.id, token: second.token, dataJSON: "{}"))
                #expect(ContinuousClock.now - started >= .milliseconds(450), "WAIT gave up before its timeout")
                await client.close()
            }
        }
    }

    /// A queue on a master with no replica: every WAIT for one runs to its timeout.
    func withLonelyMaster(timeout: Duration, _ body: (JobQueue, RedisClient, RedisServer) async throws -> Void) async throws {
        try await RedisServer.with { master in
            var options = QueueOptions()
            options.waitReplicas = 1
            options.waitTimeout = timeout
            let client = RedisClient(url: try RedisURL(parsing: master.url))
            let queue = JobQueue(name: "w", options: options, client: client, actor: "test")
            try await body(queue, client, master)
            await client.close()
        }
    }

    func addJobs(_ queue: JobQueue, _ ids: [String]) async throws {
        for id in ids {
            try await queue.client.command(["RPUSH", queue.inboxKey, "{}"])
            let item = try await queue.claim(max: 1, worker: "test")[0]
            _ = try await queue.ingest(.jobs([NewJob(id: id, type: "noop", maxAttempts: 1, payload: "{}")]), item: item, worker: "test")
        }
    }

    func waitsExecuted(_ client: RedisClient) async throws -> Int {
        let stats = try await client.command(["INFO", "commandstats"]).string ?? ""
        guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_wait:") }),
              let calls = line.split(separator: ",").first?.split(separator: "=").last else { return 0 }
        return Int(calls) ?? 0
    }

    @Test("jobs that end at once share one WAIT: eight completions, at most two WAITs, not eight in a row")
    func waitsCoalesce() async throws {
        // Long enough that a loaded machine cannot spread the eight ends over more than two rounds.
        try await withLonelyMaster(timeout: .seconds(3)) { queue, client, _ in
            let ids = (0..<8).map { "j\($0)" }
            try await addJobs(queue, ids)
            let deliveries = try await queue.fetch(max: 8).deliveries
            #expect(deliveries.count == 8)
            let before = try await waitsExecuted(client)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for delivery in deliveries {
                    group.addTask { try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}") }
                }
                for try await accepted in group { #expect(accepted) }
            }
            let sent = try await waitsExecuted(client) - before
            #expect(sent >= 1 && sent <= 2, "\(sent) WAITs for 8 completions")
        }
    }

    @Test("a heartbeat on the lease connection is answered while a WAIT blocks the shared one")
    func heartbeatsFlowDuringWait() async throws {
        try await withLonelyMaster(timeout: .seconds(60)) { queue, _, master in
            try await addJobs(queue, ["done", "running"])
            let deliveries = try await queue.fetch(max: 2).deliveries
            let done = try #require(deliveries.first { $0.id == "done" })
            let running = try #require(deliveries.first { $0.id == "running" })
            let leaseClient = RedisClient(url: try RedisURL(parsing: master.url))
            let leases = JobQueue(name: "w", options: queue.options, client: leaseClient, actor: "test")
            let completion = Task { try await queue.complete(id: done.id, token: done.token, dataJSON: "{}") }
            // Once the WAIT is in flight (the server lists a client blocked in it; 60 s of timeout)...
            func waiting() async throws -> String? {
                (try await leaseClient.command(["CLIENT", "LIST"]).string ?? "").split(separator: "\n")
                    .first { $0.contains("cmd=wait") }.flatMap { $0.split(separator: " ").first { $0.hasPrefix("id=") } }
                    .map { String($0.dropFirst(3)) }
            }
            var blocked: String?
            for _ in 0..<3000 where blocked == nil {
                blocked = try await waiting()
                if blocked == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let waiter = try #require(blocked, "the WAIT never started")
            // ...the heartbeat is answered, and the completion is still waiting for its replica.
            #expect(try await leases.heartbeat([(id: running.id, token: running.token)]) == [.held])
            #expect(try await waiting() == waiter, "the WAIT ended first: nothing was shown")
            // Its timeout is not waited for: the WAIT is ended as if it had timed out.
            _ = try await leaseClient.command(["CLIENT", "UNBLOCK", waiter])
            #expect(try await completion.value)
            await leaseClient.close()
        }
    }
}
