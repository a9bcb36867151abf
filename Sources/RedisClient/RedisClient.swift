import Foundation
import Logging

/// The queue's way to Redis, whatever its topology (`MW_REDIS_URL`): one server, a Sentinel
/// group's current master, or a Redis Cluster with a connection per master, each with
/// auto-pipelining and the queue scripts loaded.
///
/// Calls fail fast with `RedisError.connection` while Redis is away; the next call tries to
/// connect again (and, for a cluster or sentinel, learns the topology again). Callers that
/// must not lose a state change retry with backoff (`withRedisRetry`). Redirections are
/// followed here: MOVED updates the slot map, ASK is followed once with ASKING (scripts wait
/// for the migration to end instead), TRYAGAIN and CLUSTERDOWN are retried with backoff.
public actor RedisClient {
    public let url: RedisURL
    public let options: RedisConnection.Options
    private let onHealth: (@Sendable (Bool) -> Void)?
    private let logger = Logger(label: "mw.redis")

    /// One server, or the sentinel's current master.
    private var primary: RedisNode?
    /// A cluster's masters, by address.
    private var nodes: [RedisURL.Endpoint: RedisNode] = [:]
    private var slots: ClusterSlotMap?
    /// Where this client's last blocking call went, so another client can interrupt it.
    private var blockedOn: RedisNode?
    /// Sentinel topology: listens for `+switch-master` while the client is in use.
    private var sentinelWatch: Task<Void, Never>?

    public init(url: RedisURL, options: RedisConnection.Options = .init(), onHealth: (@Sendable (Bool) -> Void)? = nil) {
        self.url = url
        self.options = options
        self.onHealth = onHealth
    }

    deinit { sentinelWatch?.cancel() }

    private func target(_ endpoint: RedisURL.Endpoint) -> RedisConnection.Target {
        RedisConnection.Target(endpoint: endpoint, username: url.username, password: url.password, database: url.database, tls: url.tls)
    }

    // MARK: single server and sentinel

    private func primaryNode() async throws(RedisError) -> RedisNode {
        if let primary { return primary }
        switch url.topology {
        case .single(let endpoint):
            let node = RedisNode(target: target(endpoint), options: options, onHealth: onHealth, cluster: false)
            primary = node
            return node
        case .sentinel(let seeds, let master):
            let discovery = SentinelDiscovery(seeds: seeds, master: master, tls: url.tls, options: options)
            watchSentinels(discovery)
            let endpoint = try await discovery.master(logger: logger)
            let node = RedisNode(target: target(endpoint), options: options, onHealth: onHealth, cluster: false)
            // A sentinel can lag behind a failover: insist on talking to a master.
            let role = try await node.pipeline([["ROLE"]])[0]
            guard role.array?.first?.string == "master" else {
                await node.close()
                onHealth?(false)
                throw .topology("\(endpoint), named master of \(master) by the sentinels, is a \(role.array?.first?.string ?? "?") now")
            }
            primary = node
            return node
        case .cluster:
            throw .topology("not a single server")
        }
    }

    /// A sentinel's master that refuses writes or was lost has been replaced: learn it again.
    /// One server that answers READONLY was demoted under its name (a managed failover that
    /// moves a DNS name, as ElastiCache and Memorystore do): the connection is dropped and the
    /// call fails as a connection error, so callers retry and the next call connects afresh.
    private func checkFailover<T>(_ body: (RedisNode) async throws(RedisError) -> T) async throws(RedisError) -> T {
        let node = try await primaryNode()
        do {
            return try await body(node)
        } catch {
            if case .sentinel = url.topology, error.isConnectionError || Self.isFailoverReply(error) {
                await forgetPrimary(node)
                if case .server(let message) = error { throw .connection("the master was replaced (\(message)); the next call finds the new one") }
            }
            if case .single = url.topology, case .server(let message) = error, Self.isFailoverReply(error) {
                await forgetPrimary(node)
                logger.warning("the server refuses writes: reconnecting", metadata: ["reply": "\(message)"])
                throw .connection("the server is no longer a master (\(message)); the next call connects again")
            }
            throw error
        }
    }

    private func watchSentinels(_ discovery: SentinelDiscovery) {
        guard sentinelWatch == nil else { return }
        let logger = logger
        // Weak: a client dropped without close() still ends its watch (deinit cancels it).
        weak let client = self
        sentinelWatch = Task {
            await SentinelWatch(discovery: discovery).run(logger: logger) { endpoint in await client?.sentinelsNamed(endpoint) }
        }
    }

    /// The sentinels name `endpoint` as the master: leave any other server at once (its
    /// in-flight calls fail as in a failover and are retried by their callers).
    private func sentinelsNamed(_ endpoint: RedisURL.Endpoint) async {
        guard let primary, primary.target.endpoint != endpoint else { return }
        logger.notice("leaving the old master", metadata: ["old": "\(primary.target.endpoint)", "new": "\(endpoint)"])
        await forgetPrimary(primary)
    }

    /// The server this client sends to now (a sentinel's master once it has been asked), if
    /// connected to one server.
    public var currentServer: RedisURL.Endpoint? { primary?.target.endpoint }

    private func forgetPrimary(_ node: RedisNode) async {
        guard primary === node else { return }
        primary = nil
        await node.close()
    }

    private static func isFailoverReply(_ error: RedisError) -> Bool {
        guard case .server(let message) = error else { return false }
        return message.hasPrefix("READONLY") || message.hasPrefix("UNBLOCKED") || message.hasPrefix("MASTERDOWN")
    }

    private static func failoverReply(in replies: [RedisReply]) -> String? {
        for reply in replies {
            if case .error(let message) = reply, isFailoverReply(.server(message)) { return message }
        }
        return nil
    }

    // MARK: cluster

    private func slotMap() async throws(RedisError) -> ClusterSlotMap {
        if let slots { return slots }
        guard case .cluster(let seeds) = url.topology else { throw .topology("not a cluster") }
        // Known masters first (they answer for the cluster as it is now), then the seeds.
        var failures: [String] = []
        for endpoint in Array(nodes.keys) + seeds.filter({ nodes[$0] == nil }) {
            let node = clusterNode(endpoint)
            do {
                let reply = try await node.pipeline([["CLUSTER", "SLOTS"]])[0]
                if case .error(let message) = reply { throw RedisError.server(message) }
                let map = try ClusterSlotMap(reply: reply, answeredBy: endpoint)
                slots = map
                // Connections to nodes that no longer serve slots go.
                for (address, stale) in nodes where !map.masters.contains(address) {
                    nodes[address] = nil
                    await stale.close()
                }
                return map
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        onHealth?(false)
        throw .topology("no cluster node answered CLUSTER SLOTS (\(failures.joined(separator: "; ")))")
    }

    private func clusterNode(_ endpoint: RedisURL.Endpoint) -> RedisNode {
        if let node = nodes[endpoint] { return node }
        let node = RedisNode(target: target(endpoint), options: options, onHealth: onHealth, cluster: true)
        nodes[endpoint] = node
        return node
    }

    private func clusterNode(for arguments: [String]) async throws(RedisError) -> RedisNode {
        let map = try await slotMap()
        guard let key = ClusterSlots.routingKey(of: arguments) else {
            guard let any = map.ranges.first?.master else { throw .topology("no master known") }
            return clusterNode(any)
        }
        return try await clusterNode(forKey: key, in: map)
    }

    private func clusterNode(forKey key: String, in known: ClusterSlotMap? = nil) async throws(RedisError) -> RedisNode {
        let map: ClusterSlotMap
        if let known { map = known } else { map = try await slotMap() }
        let slot = ClusterSlots.slot(of: key)
        guard let master = map.master(of: slot) else {
            slots = nil
            throw .topology("no master serves slot \(slot)")
        }
        return clusterNode(master)
    }

    /// Sends each item to the master of its slot (items of one node in one round trip, nodes
    /// in parallel), following redirections, for at most `maxRedirects` rounds.
    private func routed(_ count: Int, arguments: (Int) -> [String], isScript: Bool,
                        send: @escaping @Sendable (RedisNode, [Int], [Int: Bool]) async throws -> [RedisReply]) async throws(RedisError) -> [RedisReply] {
        var replies = [RedisReply](repeating: .null, count: count)
        var pending = Array(0..<count)
        var asking: [Int: RedisURL.Endpoint] = [:]
        var delay = Duration.milliseconds(20)
        for round in 0...Self.maxRedirects {
            var groups: [ObjectIdentifier: (node: RedisNode, items: [Int])] = [:]
            for index in pending {
                let node: RedisNode
                if let redirected = asking[index] { node = clusterNode(redirected) } else { node = try await clusterNode(for: arguments(index)) }
                groups[ObjectIdentifier(node), default: (node, [])].items.append(index)
            }
            let batches = Array(groups.values)
            let askingNow = asking
            // Children return their batch's index and an untyped result: the release build of
            // Swift 6.3 crashed copying a child's (actor, array, typed-throws Result) tuple.
            var outcomes = [Result<[RedisReply], any Error>?](repeating: nil, count: batches.count)
            await withTaskGroup(of: BatchOutcome.self) { group in
                for (position, batch) in batches.enumerated() {
                    let flags = Dictionary(uniqueKeysWithValues: batch.items.map { ($0, askingNow[$0] != nil) })
                    let node = batch.node, items = batch.items
                    group.addTask {
                        do { return BatchOutcome(position: position, result: .success(try await send(node, items, flags))) }
                        catch { return BatchOutcome(position: position, result: .failure(error)) }
                    }
                }
                for await outcome in group { outcomes[outcome.position] = outcome.result }
            }
            pending = []
            asking = [:]
            var wait = false
            for (batch, outcome) in zip(batches, outcomes) {
                let node = batch.node, items = batch.items
                let result = (outcome ?? .failure(RedisError.connection("no reply from \(node.target)"))).mapError { $0 as? RedisError ?? .connection("\($0)") }
                switch result {
                case .failure(let error):
                    // A lost node: the map may be out of date (a failover). Learn it again next time.
                    if error.isConnectionError { slots = nil; nodes[node.target.endpoint] = nil; await node.close() }
                    throw error
                case .success(let answers):
                    for (index, reply) in zip(items, answers) {
                        switch ClusterRedirect(reply) {
                        case .moved(let slot, let to)?:
                            slots?.assign(slot: slot, to: to)
                            pending.append(index)
                        case .ask(_, let to)? where !isScript:
                            asking[index] = to
                            pending.append(index)
                        case .ask?, .later?:
                            wait = true
                            pending.append(index)
                        case nil:
                            replies[index] = reply
                        }
                    }
                }
            }
            if pending.isEmpty { return replies }
            if round == Self.maxRedirects { break }
            if wait {
                // A migration or failover under way: its end shows as MOVED, or a new map.
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
                slots = nil
            }
        }
        logger.warning("cluster redirections did not settle", metadata: ["commands": "\(pending.count)"])
        throw .topology("the cluster kept redirecting \(pending.count) command(s) for \(Self.maxRedirects) rounds")
    }

    static let maxRedirects = 16

    private struct BatchOutcome: Sendable {
        var position: Int
        var result: Result<[RedisReply], any Error>
    }

    // MARK: the API

    /// Sends one command; an error reply throws `.server`.
    @discardableResult
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        let reply = try await pipeline([arguments])[0]
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends commands in one round trip per node; error replies are returned in place.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        if case .cluster = url.topology {
            // A command without a key (WAIT after a write) goes where the command before it goes.
            let routing = commands.indices.map { index in
                var source = index
                while source > 0 && ClusterSlots.routingKey(of: commands[source]) == nil { source -= 1 }
                return commands[source]
            }
            return try await routed(commands.count, arguments: { routing[$0] }, isScript: false) { node, items, asking in
                var wire: [[String]] = []
                for index in items {
                    if asking[index] == true { wire.append(["ASKING"]) }
                    wire.append(commands[index])
                }
                let answers = try await node.pipeline(wire)
                var replies: [RedisReply] = []
                var position = 0
                for index in items {
                    if asking[index] == true { position += 1 }
                    replies.append(answers[position])
                    position += 1
                }
                return replies
            }
        }
        return try await checkFailover { node throws(RedisError) in
            let replies = try await node.pipeline(commands)
            if let message = Self.failoverReply(in: replies) { throw RedisError.server(message) }
            return replies
        }
    }

    /// A blocking command on this client's connection (the caller keeps a client for blocking).
    public func blockingCommand(_ arguments: [String], wait: Duration) async throws(RedisError) -> RedisReply {
        if case .cluster = url.topology {
            for _ in 0..<3 {
                let node = try await clusterNode(for: arguments)
                blockedOn = node
                let reply: RedisReply
                do {
                    reply = try await node.blockingCommand(arguments, wait: wait)
                } catch {
                    if error.isConnectionError { slots = nil; nodes[node.target.endpoint] = nil; await node.close() }
                    if case .server(let message) = error, let redirect = ClusterRedirect(.error(message)) {
                        if case .moved(let slot, let to) = redirect { slots?.assign(slot: slot, to: to) } else { slots = nil }
                        continue
                    }
                    throw error
                }
                return reply
            }
            return .null // redirected while waiting: as if the wait had ended empty
        }
        return try await checkFailover { node throws(RedisError) in
            blockedOn = node
            return try await node.blockingCommand(arguments, wait: wait)
        }
    }

    /// Where this client's blocking call waits: the server and its connection id there.
    public var blockingSession: (RedisURL.Endpoint, Int64)? {
        guard let node = blockedOn, let id = node.connectionID else { return nil }
        return (node.target.endpoint, id)
    }

    /// Ends other clients' blocking calls at once, as if they had timed out (`CLIENT UNBLOCK` on
    /// the server each one waits on).
    public func interruptBlocking(of clients: [RedisClient]) async throws(RedisError) {
        var byServer: [RedisURL.Endpoint: [Int64]] = [:]
        for client in clients {
            if let (endpoint, id) = await client.blockingSession { byServer[endpoint, default: []].append(id) }
        }
        for (endpoint, ids) in byServer {
            let node: RedisNode
            if case .cluster = url.topology { node = clusterNode(endpoint) } else {
                node = try await primaryNode()
                guard node.target.endpoint == endpoint else { continue } // a failover ended those calls already
            }
            _ = try await node.pipeline(ids.map { ["CLIENT", "UNBLOCK", String($0)] })
        }
    }

    /// Runs a script; an error reply from the script throws `.server`.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws(RedisError) -> RedisReply {
        let replies = try await runPipelined([(script, keys, arguments)])
        if case .error(let message) = replies[0] { throw .server(message) }
        return replies[0]
    }

    /// Runs several scripts in one round trip per node; error replies are returned in place.
    public func runPipelined(_ calls: [(RedisScript, [String], [String])]) async throws(RedisError) -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        if case .cluster = url.topology {
            return try await routed(calls.count, arguments: { ["EVALSHA", "", String(calls[$0].1.count)] + calls[$0].1 }, isScript: true) {
                node, items, _ in
                try await node.runScripts(items.map { calls[$0] })
            }
        }
        return try await checkFailover { node throws(RedisError) in
            let replies = try await node.runScripts(calls)
            if let message = Self.failoverReply(in: replies) { throw RedisError.server(message) }
            return replies
        }
    }

    /// `WAIT n timeout` on the connection that wrote `key`'s slot: how many replicas have every
    /// write made on it before the WAIT. Callers that ask while one is in flight share the next
    /// one (sent when it returns, so it covers their writes too): one WAIT per round however many
    /// jobs end at once, and the connection blocks for at most one timeout per round. A failure
    /// answers 0 (counted short by the caller, never lost work: the transition happened).
    public func waitForReplicas(_ count: Int, timeout: Duration, near key: String) async -> Int {
        var round = replicaWaits[key] ?? ReplicaWaitRound()
        let answer: Int = await withCheckedContinuation { continuation in
            round.next.append(continuation)
            replicaWaits[key] = round
            if !round.inFlight { startReplicaWait(count, timeout: timeout, near: key) }
        }
        return answer
    }

    private struct ReplicaWaitRound {
        var inFlight = false
        var next: [CheckedContinuation<Int, Never>] = []
    }

    /// Replica waits by the key whose connection they wait on.
    private var replicaWaits: [String: ReplicaWaitRound] = [:]
    /// WAIT commands sent (one per round): what coalescing saves is visible in tests.
    public private(set) var replicaWaitsSent = 0

    private func startReplicaWait(_ count: Int, timeout: Duration, near key: String) {
        guard var round = replicaWaits[key], !round.next.isEmpty else { replicaWaits[key] = nil; return }
        let waiters = round.next
        round.next = []
        round.inFlight = true
        replicaWaits[key] = round
        replicaWaitsSent += 1
        Task {
            let acknowledged = (try? await self.sendWait(count, timeout: timeout, near: key)) ?? 0
            for waiter in waiters { waiter.resume(returning: acknowledged) }
            await self.finishReplicaWait(count, timeout: timeout, near: key)
        }
    }

    private func finishReplicaWait(_ count: Int, timeout: Duration, near key: String) {
        replicaWaits[key]?.inFlight = false
        startReplicaWait(count, timeout: timeout, near: key)
    }

    private func sendWait(_ count: Int, timeout: Duration, near key: String) async throws(RedisError) -> Int {
        let wait = ["WAIT", String(count), String(timeout.milliseconds)]
        let reply: RedisReply
        if case .cluster = url.topology {
            reply = try await clusterNode(forKey: key).pipeline([wait])[0]
        } else {
            reply = try await checkFailover { node throws(RedisError) in try await node.pipeline([wait])[0] }
        }
        if case .error(let message) = reply { throw .server(message) }
        return Int(reply.integer ?? 0)
    }

    public func close() async {
        sentinelWatch?.cancel()
        sentinelWatch = nil
        await primary?.close()
        primary = nil
        for node in nodes.values { await node.close() }
        nodes.removeAll()
        slots = nil
        blockedOn = nil
    }
}

/// Retries `body` while Redis is unreachable, with exponential backoff (100 ms doubling to
/// 5 s), until it succeeds, fails otherwise, or `deadline` passes. For calls that finish a
/// job: an outage must delay them, not lose them.
public func withRedisRetry<T>(
    until deadline: ContinuousClock.Instant = .now + .seconds(3600),
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws(RedisError) -> T
) async throws -> T {
    var delay = Duration.milliseconds(100)
    while true {
        let failure: RedisError
        do {
            return try await body()
        } catch {
            failure = error
        }
        guard failure.isConnectionError, ContinuousClock.now + delay < deadline else { throw failure }
        try await Task.sleep(for: delay)
        delay = min(delay * 2, .seconds(5))
    }
}
