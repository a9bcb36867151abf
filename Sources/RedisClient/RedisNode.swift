import Metrics
import Synchronization

/// One server as a client sees it: a connection made on demand, auto-pipelining, and the queue
/// scripts loaded on that server. `RedisClient` routes to one (a single server, a sentinel's
/// master) or to one per cluster node.
///
/// One actor hop per round trip: callers queue under a lock wherever they run; the one that
/// sends hops once to the connection's own thread (`RedisLink`) and, back, hands every queued
/// caller its replies directly (they go on where they were, never through this node again).
final class RedisNode: Sendable {
    let target: RedisConnection.Target
    let options: RedisConnection.Options
    /// A Redis Cluster node: runs the scripts' cluster variant (with the migration guard).
    let cluster: Bool
    private let link: RedisLink

    /// A caller waiting for its turn: either its replies arrive, or it is told to send.
    private enum Turn {
        case done(Result<[RedisReply], RedisError>)
        case send
    }

    private struct Waiter {
        let commands: [[String]]
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State {
        var sending = false
        var waiting: [Waiter] = []
        /// Scripts known to be loaded on this server (forgotten on NOSCRIPT).
        var loadedScripts: Set<String> = []
    }

    private let state = Mutex(State())

    init(target: RedisConnection.Target, options: RedisConnection.Options, onHealth: (@Sendable (Bool) -> Void)?, cluster: Bool) {
        self.target = target
        self.options = options
        self.cluster = cluster
        self.link = RedisLink(target: target, options: options, onHealth: onHealth)
    }

    /// The server's id for the current connection (`CLIENT ID`): another client can end a
    /// blocking call of this one early with `CLIENT UNBLOCK`. Read without the link, whose
    /// thread is held by that very blocking call.
    var connectionID: Int64? { link.connectionID.withLock { $0 } }

    /// Sends commands in one round trip; error replies are returned in place.
    ///
    /// Auto-pipelining: while one round trip is on the wire, calls from other tasks queue.
    /// The caller that sent goes on sending what queued meanwhile, all in one round trip each
    /// time, for at most `maxRoundsPerSender` rounds (it is already running: no hand-over
    /// cost); then the next queued caller takes over. Many jobs finishing at once cost one
    /// round trip, order per caller is kept (a caller's commands stay together on the wire),
    /// and nobody sends for others forever.
    func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let turn: Turn = await withCheckedContinuation { continuation in
            let mine = state.withLock { state -> Bool in
                if state.sending {
                    state.waiting.append(Waiter(commands: commands, continuation: continuation))
                    return false
                }
                state.sending = true
                return true
            }
            if mine { continuation.resume(returning: .send) }
        }
        if case .done(let result) = turn { return try result.get() }
        var own: Result<[RedisReply], RedisError>?
        for _ in 0..<Self.maxRoundsPerSender {
            let others = state.withLock { state in
                let queued = state.waiting
                state.waiting.removeAll()
                return queued
            }
            let mine = own == nil ? commands : []
            if mine.isEmpty && others.isEmpty { break }
            var wire = mine
            for waiter in others { wire.append(contentsOf: waiter.commands) }
            let result = await link.send(wire)
            if own == nil { own = result.map { Array($0[0..<commands.count]) } }
            var offset = mine.count
            for waiter in others {
                let count = waiter.commands.count
                waiter.continuation.resume(returning: .done(result.map { Array($0[offset..<offset + count]) }))
                offset += count
            }
        }
        let next = state.withLock { state -> Waiter? in
            if state.waiting.isEmpty {
                state.sending = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume(returning: .send)
        return try own!.get()
    }

    static let maxRoundsPerSender = 4

    func blockingCommand(_ arguments: [String], wait: Duration) async throws(RedisError) -> RedisReply {
        try await link.blockingCommand(arguments, wait: wait)
    }

    /// Runs scripts in one round trip; error replies are returned in place. Loads scripts this
    /// server does not know yet.
    func runScripts(_ calls: [(RedisScript, [String], [String])]) async throws(RedisError) -> [RedisReply] {
        let missing = state.withLock { state in calls.filter { !state.loadedScripts.contains($0.0.name) } }
        for (script, _, _) in missing { try await load(script) }
        let commands = calls.map { script, keys, arguments in
            ["EVALSHA", script.variant(cluster: cluster).sha1, String(keys.count)] + keys + arguments
        }
        var replies = try await pipeline(commands)
        for (index, reply) in replies.enumerated() {
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT") else { continue }
            // Redis restarted (or SCRIPT FLUSH, or a failover to a replica that never saw the
            // load): load again and rerun only the refused call. A refused EVALSHA did not run,
            // so rerunning it cannot apply a transition twice.
            state.withLock { $0.loadedScripts.removeAll() }
            try await load(calls[index].0)
            replies[index] = try await pipeline([commands[index]])[0]
        }
        return replies
    }

    private func load(_ script: RedisScript) async throws(RedisError) {
        let (source, sha1) = script.variant(cluster: cluster)
        let reply = try await pipeline([["SCRIPT", "LOAD", source]])[0]
        if case .error(let message) = reply { throw .server(message) }
        guard reply.string == sha1 else { throw .unexpectedReply("SCRIPT LOAD answered \(reply), expected \(sha1)") }
        _ = state.withLock { $0.loadedScripts.insert(script.name) }
    }

    func close() async {
        await link.close()
    }
}

/// A node's connection, on a thread of its own (hiredis blocks): made on demand, made again
/// after a failure. Only `RedisNode` talks to it.
actor RedisLink {
    let target: RedisConnection.Target
    let options: RedisConnection.Options
    private let executor = DedicatedThreadExecutor(name: "redis-connection")
    private var connection: RedisConnection?
    private var everConnected = false
    /// Written here, read by the node from any thread (see `RedisNode.connectionID`).
    nonisolated let connectionID = Mutex<Int64?>(nil)
    private let reconnects = Counter(label: "mw_redis_reconnects_total")
    private let onHealth: (@Sendable (Bool) -> Void)?

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(target: RedisConnection.Target, options: RedisConnection.Options, onHealth: (@Sendable (Bool) -> Void)?) {
        self.target = target
        self.options = options
        self.onHealth = onHealth
    }

    deinit { executor.shutdown() }

    private func connected() async throws(RedisError) -> RedisConnection {
        if let connection, await connection.isConnected { return connection }
        if let connection { await connection.close() }
        connection = nil
        do {
            // The connection runs on this actor's thread: talking to it is no hop at all.
            let fresh = try await RedisConnection(target: target, options: options, executor: executor)
            let id = try await fresh.command(["CLIENT", "ID"]).integer
            connectionID.withLock { $0 = id }
            if everConnected { reconnects.increment() }
            everConnected = true
            connection = fresh
            return fresh
        } catch {
            onHealth?(false)
            throw error
        }
    }

    private func observe<T>(_ body: (RedisConnection) async throws(RedisError) -> T) async throws(RedisError) -> T {
        let connection = try await connected()
        do {
            let result = try await body(connection)
            onHealth?(true)
            return result
        } catch {
            if error.isConnectionError { onHealth?(false) } else { onHealth?(true) }
            throw error
        }
    }

    func send(_ commands: [[String]]) async -> Result<[RedisReply], RedisError> {
        do {
            return .success(try await observe { connection throws(RedisError) in try await connection.pipeline(commands) })
        } catch {
            return .failure(error)
        }
    }

    func blockingCommand(_ arguments: [String], wait: Duration) async throws(RedisError) -> RedisReply {
        try await observe { connection throws(RedisError) in try await connection.blockingCommand(arguments, wait: wait) }
    }

    func close() async {
        await connection?.close()
        connection = nil
    }
}
