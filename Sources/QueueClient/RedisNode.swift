import Metrics

/// One server as a client sees it: a connection made on demand, auto-pipelining, and the queue
/// scripts loaded on that server. `RedisClient` routes to one (a single server, a sentinel's
/// master) or to one per cluster node.
actor RedisNode {
    let target: RedisConnection.Target
    let options: RedisConnection.Options
    private var connection: RedisConnection?
    /// Scripts known to be loaded on this server (forgotten on NOSCRIPT).
    private var loadedScripts: Set<String> = []
    private var everConnected = false
    /// The server's id for the current connection (`CLIENT ID`): another client can end a
    /// blocking call of this one early with `CLIENT UNBLOCK`.
    private(set) var connectionID: Int64?
    private let reconnects = Counter(label: "mw_redis_reconnects_total")
    private let onHealth: (@Sendable (Bool) -> Void)?

    init(target: RedisConnection.Target, options: RedisConnection.Options, onHealth: (@Sendable (Bool) -> Void)?) {
        self.target = target
        self.options = options
        self.onHealth = onHealth
    }

    private func connected() async throws(RedisError) -> RedisConnection {
        if let connection, await connection.isConnected { return connection }
        if let connection { await connection.close() }
        connection = nil
        do {
            let fresh = try await RedisConnection(target: target, options: options)
            connectionID = try await fresh.command(["CLIENT", "ID"]).integer
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

    /// A caller waiting for its turn: either its replies arrive, or it is told to send.
    private enum Turn {
        case done(Result<[RedisReply], RedisError>)
        case send
    }

    private struct Waiter {
        let commands: [[String]]
        let continuation: CheckedContinuation<Turn, Never>
    }

    private var waiting: [Waiter] = []
    private var sending = false

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
        if sending {
            let turn = await withCheckedContinuation { waiting.append(Waiter(commands: commands, continuation: $0)) }
            if case .done(let result) = turn { return try result.get() }
        }
        sending = true
        var own: Result<[RedisReply], RedisError>?
        for _ in 0..<Self.maxRoundsPerSender {
            let others = waiting
            waiting.removeAll()
            let mine = own == nil ? commands : []
            if mine.isEmpty && others.isEmpty { break }
            let result = await send(mine + others.flatMap(\.commands))
            if own == nil { own = result.map { Array($0[0..<commands.count]) } }
            var offset = mine.count
            for waiter in others {
                let count = waiter.commands.count
                waiter.continuation.resume(returning: .done(result.map { Array($0[offset..<offset + count]) }))
                offset += count
            }
        }
        if waiting.isEmpty {
            sending = false
        } else {
            waiting.removeFirst().continuation.resume(returning: .send)
        }
        return try own!.get()
    }

    static let maxRoundsPerSender = 4

    private func send(_ commands: [[String]]) async -> Result<[RedisReply], RedisError> {
        do {
            return .success(try await observe { connection throws(RedisError) in try await connection.pipeline(commands) })
        } catch {
            return .failure(error)
        }
    }

    func blockingCommand(_ arguments: [String], wait: Duration) async throws(RedisError) -> RedisReply {
        try await observe { connection throws(RedisError) in try await connection.blockingCommand(arguments, wait: wait) }
    }

    /// Runs scripts in one round trip (`prefix` commands, e.g. ASKING, go before each call);
    /// error replies are returned in place. Loads scripts this server does not know yet.
    func runScripts(_ calls: [(QueueScript, [String], [String])]) async throws(RedisError) -> [RedisReply] {
        for (script, _, _) in calls where !loadedScripts.contains(script.name) {
            try await load(script)
        }
        let commands = calls.map { script, keys, arguments in
            ["EVALSHA", script.sha1, String(keys.count)] + keys + arguments
        }
        var replies = try await pipeline(commands)
        for (index, reply) in replies.enumerated() {
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT") else { continue }
            // Redis restarted (or SCRIPT FLUSH, or a failover to a replica that never saw the
            // load): load again and rerun only the refused call. A refused EVALSHA did not run,
            // so rerunning it cannot apply a transition twice.
            loadedScripts.removeAll()
            try await load(calls[index].0)
            replies[index] = try await pipeline([commands[index]])[0]
        }
        return replies
    }

    private func load(_ script: QueueScript) async throws(RedisError) {
        let reply = try await pipeline([["SCRIPT", "LOAD", script.source]])[0]
        if case .error(let message) = reply { throw .server(message) }
        guard reply.string == script.sha1 else { throw .unexpectedReply("SCRIPT LOAD answered \(reply), expected \(script.sha1)") }
        loadedScripts.insert(script.name)
    }

    func close() async {
        await connection?.close()
        connection = nil
    }
}
