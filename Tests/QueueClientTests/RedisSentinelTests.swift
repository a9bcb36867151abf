import Foundation
import QueueClient
import Testing
import TestSupport

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
            defer { stop.set() }
            try await withThrowingTaskGroup(of: Void.self) { consumers in
                for worker in 0..<2 {
                    consumers.addTask {
                        let own = RedisClient(url: url)
                        await RedisClusterTests.consume(JobQueue(name: "s", options: options, client: own, actor: "w\(worker)"), worker: "w\(worker)",
                                                        pace: .milliseconds(40), until: { stop.isSet })
                        await own.close()
                    }
                }
                try await Task.sleep(for: .seconds(1))
                let endedBeforeKill = try await RedisClusterTests.terminalCounts(queue).count
                #expect(endedBeforeKill < total, "the kill must come while the queue still has work")
                await group.master.crash()
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
