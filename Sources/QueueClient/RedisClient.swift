import Foundation
import Metrics

/// A Redis connection that reconnects on demand and runs queue scripts by SHA.
///
/// Calls fail fast with `RedisError.connection` while Redis is away; the next call tries to
/// connect again. Callers that must not lose a state change retry with backoff
/// (`withRedisRetry`). Scripts are loaded once per server and reloaded on NOSCRIPT
/// (a restarted Redis without persistence has forgotten them).
public actor RedisClient {
    public let url: RedisURL
    public let options: RedisConnection.Options
    private var connection: RedisConnection?
    /// Scripts known to be loaded on the current server (forgotten on NOSCRIPT).
    private var loadedScripts: Set<String> = []
    private var everConnected = false
    /// The server's id for the current connection (`CLIENT ID`): another client can end a
    /// blocking call of this one early with `CLIENT UNBLOCK`.
    public private(set) var connectionID: Int64?
    private let reconnects = Counter(label: "mw_redis_reconnects_total")
    /// Told about every reply or connection failure (the worker's readiness follows it).
    private let onHealth: (@Sendable (Bool) -> Void)?

    public init(url: RedisURL, options: RedisConnection.Options = .init(), onHealth: (@Sendable (Bool) -> Void)? = nil) {
        self.url = url
        self.options = options
        self.onHealth = onHealth
    }

    private func connected() async throws(RedisError) -> RedisConnection {
        if let connection, await connection.isConnected { return connection }
        if let connection { await connection.close() }
        connection = nil
        do {
            let fresh = try await RedisConnection(url: url, options: options)
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

    /// Sends one command; an error reply throws `.server`.
    @discardableResult
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        let reply = try await pipeline([arguments])[0]
        if case .error(let message) = reply { throw .server(message) }
        return reply
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
    /// round trip, order per caller is kept, and nobody sends for others forever.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisReply] {
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

    /// A blocking command on this client's connection (the caller keeps a client for blocking).
    public func blockingCommand(_ arguments: [String], wait: Duration) async throws(RedisError) -> RedisReply {
        try await observe { connection throws(RedisError) in try await connection.blockingCommand(arguments, wait: wait) }
    }

    /// Runs a script; an error reply from the script throws `.server`.
    public func run(_ script: QueueScript, keys: [String], arguments: [String]) async throws(RedisError) -> RedisReply {
        let replies = try await runPipelined([(script, keys, arguments)])
        if case .error(let message) = replies[0] { throw .server(message) }
        return replies[0]
    }

    /// Runs several scripts in one round trip; error replies are returned in place.
    public func runPipelined(_ calls: [(QueueScript, [String], [String])]) async throws(RedisError) -> [RedisReply] {
        for (script, _, _) in calls where !loadedScripts.contains(script.name) {
            try await load(script)
        }
        let commands = calls.map { script, keys, arguments in
            ["EVALSHA", script.sha1, String(keys.count)] + keys + arguments
        }
        var replies = try await pipeline(commands)
        for (index, reply) in replies.enumerated() {
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT") else { continue }
            // Redis restarted (or SCRIPT FLUSH): load again and rerun only the refused call.
            // A refused EVALSHA did not run, so rerunning it cannot apply a transition twice.
            loadedScripts.removeAll()
            try await load(calls[index].0)
            replies[index] = try await pipeline([commands[index]])[0]
        }
        return replies
    }

    private func load(_ script: QueueScript) async throws(RedisError) {
        let reply = try await command(["SCRIPT", "LOAD", script.source])
        guard reply.string == script.sha1 else { throw .unexpectedReply("SCRIPT LOAD answered \(reply), expected \(script.sha1)") }
        loadedScripts.insert(script.name)
    }

    /// Ends the blocking calls of other clients at once, as if they had timed out.
    public func unblock(connectionIDs: [Int64]) async throws(RedisError) {
        guard !connectionIDs.isEmpty else { return }
        _ = try await pipeline(connectionIDs.map { ["CLIENT", "UNBLOCK", String($0)] })
    }

    public func close() async {
        await connection?.close()
        connection = nil
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
