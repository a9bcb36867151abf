import Foundation
import JobContract
import QueueClient
import RedisClient
import Synchronization
import TestSupport
import Testing

/// The queue on a real Redis Cluster (3 masters, 3 replicas, started by the test).
@Suite("Redis Cluster", .serialized)
struct RedisClusterTests {
    /// Queue names whose slots live on three different masters.
    static func spreadQueues(_ cluster: RedisCluster) async throws -> [String] {
        let names = try await cluster.queueNamesOnDifferentMasters(slot: ClusterSlots.slot(of:))
        let masters = try await cluster.slotRanges()
        #expect(names.count == 3, "\(masters.map { ($0.server.port, $0.ranges) })")
        return names
    }

    static func push(_ queue: JobQueue, ids: [String]) async throws {
        for id in ids {
            try await withRedisRetry(until: .now + .seconds(20)) { () async throws(RedisError) in
                // Acknowledged by the replica too (WAIT 1), as a producer that must not lose a push does.
                let replies = try await queue.client.pipeline([["RPUSH", queue.inboxKey, #"{"id":"\#(id)"}"#], ["WAIT", "1", "2000"]])
                if case .error(let message) = replies[0] { throw RedisError.server(message) }
                guard replies[1].integer == 1 else { throw RedisError.connection("WAIT: the replica did not acknowledge \(id): \(replies[1])") }
            }
        }
    }

    /// Claims, ingests, fetches and completes until `done` says stop; every failure (a node lost,
    /// a redirection that has not settled) is retried after a pause, as a worker does.
    static func consume(_ queue: JobQueue, worker: String, pace: Duration = .zero, gate: KillGate? = nil, until done: @Sendable () -> Bool) async {
        // Cancelled (another task of the test failed): stop at once, sleeps would not wait.
        while !done() && !Task.isCancelled {
            if gate?.holding == true {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            do {
                let items = try await queue.claim(max: 20, worker: worker)
                for item in items {
                    let id = (try? JSONSerialization.jsonObject(with: Data(item)) as? [String: Any])?["id"] as? String ?? "?"
                    let job = NewJob(id: id, type: "noop", priority: .normal, maxAttempts: 50, runAtMilliseconds: nil, payload: "{}", metadataJSON: "{}")
                    _ = try await queue.ingest(.jobs([job]), item: item, worker: worker)
                }
                if let leftover = try await queue.oldestClaimed(worker: worker) {
                    _ = try await queue.ingest(.jobs([NewJob(id: (try? JSONSerialization.jsonObject(with: Data(leftover)) as? [String: Any])?["id"] as? String ?? "?", type: "noop",
                                                             priority: .normal, maxAttempts: 50, runAtMilliseconds: nil, payload: "{}", metadataJSON: "{}")]),
                                               item: leftover, worker: worker)
                }
                let fetched = try await queue.fetch(max: 10)
                for delivery in fetched.deliveries {
                    try await Task.sleep(for: pace) // the job's work
                    _ = try await withRedisRetry(until: .now + .seconds(30)) { () async throws(RedisError) -> Bool in
                        try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}")
                    }
                    gate?.completed()
                }
                if items.isEmpty && fetched.deliveries.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            } catch {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Terminal events per job id, read from the queue's stream.
    static func terminalCounts(_ queue: JobQueue) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let reply = try await queue.client.command(["XRANGE", queue.eventsKey, "-", "+"])
        for entry in reply.array ?? [] {
            let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
            guard let at = fields.firstIndex(of: "event"),
                  let event = try JSONSerialization.jsonObject(with: Data(fields[at + 1].utf8)) as? [String: Any],
                  let type = event["type"] as? String, type.hasSuffix("Completed") || type.hasSuffix("Failed") || type.hasSuffix("Canceled"),
                  let id = event["job_id"] as? String else { continue }
            counts[id, default: 0] += 1
        }
        return counts
    }

    @Test("queues on three masters: scripts, blocking calls and their interruption, the registry across slots")
    func routing() async throws {
        try await RedisCluster.with { cluster in
        let names = try await Self.spreadQueues(cluster)
        var owners: Set<Int> = []
        for name in names { owners.insert(try await cluster.master(of: ClusterSlots.slot(of: name)).port) }
        #expect(owners.count == 3)
        let client = RedisClient(url: try RedisURL(parsing: cluster.url))
        let queues = names.map { JobQueue(name: $0, options: QueueOptions(), client: client, actor: "test") }
        for (index, queue) in queues.enumerated() { try await Self.push(queue, ids: (0..<20).map { "\(index)-\($0)" }) }
        let stop = Flag()
        await withTaskGroup(of: Void.self) { group in
            for queue in queues { group.addTask { await Self.consume(queue, worker: "w", until: { stop.isSet }) } }
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                var done = 0
                for queue in queues { done += (try? await queue.counts().completed) ?? 0 }
                if done == 60 { break }
                try? await Task.sleep(for: .milliseconds(100))
            }
            stop.set()
        }
        for queue in queues { #expect(try await Self.terminalCounts(queue).values.filter { $0 == 1 }.count == 20) }

        // A blocking call waits on its queue's node; another client ends it at once.
        let blocking = RedisClient(url: try RedisURL(parsing: cluster.url))
        let started = ContinuousClock.now
        async let waited = blocking.blockingCommand(["BLPOP", "mw:{\(names[2])}:nothing-comes", "20"], wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(500))
        try await client.interruptBlocking(of: [blocking])
        let unblocked = try await waited
        #expect(unblocked == .null, "\(unblocked)")
        #expect(ContinuousClock.now - started < .seconds(10))

        // The registry's keys are in other slots than any queue's.
        let registry = WorkerRegistry(prefix: "mw", client: client)
        for worker in ["a", "b", "c", "d"] { try await registry.refresh(worker: worker, fields: ["queues": names.joined(separator: ",")]) }
        #expect(try await registry.list().map(\.id).sorted() == ["a", "b", "c", "d"])
        await blocking.close()
        await client.close()
        }
    }

    @Test("a master SIGKILLed (its replica takes over) and a queue's slot resharded live while jobs run on three queues: every job ends exactly once", .timeLimit(.minutes(5)))
    func failoverAndReshard() async throws {
        try await RedisCluster.with { cluster in
        trace("cluster up")
        let names = try await Self.spreadQueues(cluster)
        let client = RedisClient(url: try RedisURL(parsing: cluster.url))
        var settings = QueueOptions()
        settings.lease = .seconds(3)
        settings.maxStalls = 50
        let options = settings
        let queues = names.map { JobQueue(name: $0, options: options, client: client, actor: "test") }
        trace("queues \(names)")
        let perQueue = 200
        let stop = Flag()
        // The failover queue's consumers wait until every push is in, so its master is killed
        // while it still has work however slow the pushes (WAIT 1 each) are on a loaded machine.
        let failoverQueueMayRun = Flag()
        let failoverGate = KillGate(holdAt: perQueue / 2)
        defer { stop.set() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Every job is pushed (and on a replica) before the master is killed.
            async let pushed: Void = withThrowingTaskGroup(of: Void.self) { pushes in
                for (index, queue) in queues.enumerated() {
                    pushes.addTask { try await Self.push(queue, ids: (0..<perQueue).map { "\(index)-\($0)" }) }
                }
                try await pushes.waitForAll()
            }
            for (index, queue) in queues.enumerated() {
                // Two consumers per queue, each with its own connections, like two workers.
                for worker in 0..<2 {
                    group.addTask {
                        while index == 1 && !failoverQueueMayRun.isSet && !stop.isSet { try await Task.sleep(for: .milliseconds(50)) }
                        let own = RedisClient(url: try RedisURL(parsing: cluster.url))
                        await Self.consume(JobQueue(name: queue.name, options: options, client: own, actor: "w\(worker)"), worker: "w\(worker)",
                                           pace: .milliseconds(40), gate: index == 1 ? failoverGate : nil, until: { stop.isSet })
                        await own.close()
                    }
                }
            }
            trace("consumers started")
            // Live reshard: the first queue's slot moves to the third queue's master.
            try await Task.sleep(for: .seconds(1))
            let slot = ClusterSlots.slot(of: names[0])
            let from = try await cluster.master(of: slot)
            let to = try await cluster.master(of: ClusterSlots.slot(of: names[2]))
            let seed = "127.0.0.1:\(from.port)"
            let reshard = try await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"), [
                "--cluster", "reshard", seed, "--cluster-from", try await cluster.nodeID(from), "--cluster-to", try await cluster.nodeID(to),
                "--cluster-slots", "1", "--cluster-yes",
            ], timeout: .seconds(60))
            #expect(reshard.succeeded, "\(reshard.stdout) \(reshard.stderr)")
            #expect(try await cluster.master(of: slot).port == to.port)
            trace("resharded")
            try await pushed
            trace("pushed")
            // Failover: the second queue's master dies once its consumers are under way, and before
            // they have ended half its jobs (they hold there until the kill); its replica takes over
            // after the node timeout.
            failoverQueueMayRun.set()
            let underWay = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < underWay, failoverGate.completedCount < 10 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let victim = try await cluster.master(of: ClusterSlots.slot(of: names[1]))
            let endedBeforeKill = try await Self.terminalCounts(queues[1]).count
            #expect(endedBeforeKill >= 10 && endedBeforeKill < perQueue, "the kill must come while the queue is under way and still has work")
            await victim.crash()
            failoverGate.killed()
            let failedOver = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < failedOver, (try? await cluster.master(of: ClusterSlots.slot(of: names[1])).port).map({ $0 == victim.port }) ?? true {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await cluster.master(of: ClusterSlots.slot(of: names[1])).port != victim.port)
            trace("failed over; \(endedBeforeKill) of queue 1's jobs had ended before the kill")
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                var done = 0
                for queue in queues { done += (try? await Self.terminalCounts(queue).count) ?? 0 }
                if done == perQueue * queues.count { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            stop.set()
            try await group.waitForAll()
        }
        for (index, queue) in queues.enumerated() {
            let counts = try await Self.terminalCounts(queue)
            #expect(counts.count == perQueue, "queue \(index): \(counts.count) of \(perQueue) ended")
            #expect(counts.values.allSatisfy { $0 == 1 }, "queue \(index): ended twice: \(counts.filter { $0.value > 1 }.keys.sorted())")
            let left = try await queue.counts()
            #expect(left.waiting == 0 && left.active == 0)
        }
        await client.close()
        }
    }
}

/// Keeps work for a kill by construction, not by a window a loaded machine could close: the
/// consumers hold (fetch nothing) once `holdAt` jobs are completed until the kill is done, so at
/// most `holdAt` plus their batches in hand have ended when it comes.
final class KillGate: Sendable {
    let holdAt: Int
    private let state = Mutex((completed: 0, killed: false))
    init(holdAt: Int) { self.holdAt = holdAt }
    var holding: Bool { state.withLock { $0.completed >= holdAt && !$0.killed } }
    var completedCount: Int { state.withLock { $0.completed } }
    func completed() { state.withLock { $0.completed += 1 } }
    func killed() { state.withLock { $0.killed = true } }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// Progress of a long cluster test on stderr, so a failure shows how far it got.
func trace(_ text: String) {
    FileHandle.standardError.write(Data("TRACE \(Date()): \(text)\n".utf8))
}
