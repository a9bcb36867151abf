import CHiredis
import Foundation

/// One connection to Redis through hiredis's blocking API.
///
/// The actor runs on a thread of its own, so a blocking call (a command, or a
/// blocking pop waiting for work) never occupies Swift's shared threads, and
/// commands on one connection never interleave.
public actor RedisConnection {
    public struct Options: Sendable {
        /// Limit on establishing the TCP or unix connection.
        public var connectTimeout: Duration
        /// Limit on one command's round trip; blocking commands add their own wait to it.
        public var commandTimeout: Duration

        public init(connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)) {
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }
    }

    public let url: RedisURL
    public let options: Options
    private let executor: DedicatedThreadExecutor
    private nonisolated(unsafe) var context: UnsafeMutablePointer<redisContext>?

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Connects, authenticates and selects the database.
    public init(url: RedisURL, options: Options = Options()) async throws(RedisError) {
        self.url = url
        self.options = options
        self.executor = DedicatedThreadExecutor(name: "redis-connection")
        try connect()
    }

    deinit {
        if let context { redisFree(context) }
        executor.shutdown()
    }

    public var isConnected: Bool { context != nil }

    /// Drops the current socket (if any) and connects again.
    public func reconnect() throws(RedisError) {
        close()
        try connect()
    }

    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    private func connect() throws(RedisError) {
        var timeout = Self.timeval(options.connectTimeout)
        let newContext: UnsafeMutablePointer<redisContext>?
        switch url.endpoint {
        case .tcp(let host, let port):
            newContext = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unixSocket(let path):
            newContext = redisConnectUnixWithTimeout(path, timeout)
        }
        guard let newContext else { throw .connection("cannot allocate a hiredis context") }
        if newContext.pointee.err != 0 {
            let message = Self.contextError(newContext)
            redisFree(newContext)
            throw .connection("cannot connect to \(url): \(message)")
        }
        timeout = Self.timeval(options.commandTimeout)
        redisSetTimeout(newContext, timeout)
        if case .tcp = url.endpoint { redisEnableKeepAlive(newContext) }
        context = newContext
        do {
            if let password = url.password {
                if let username = url.username {
                    _ = try command(["AUTH", username, password])
                } else {
                    _ = try command(["AUTH", password])
                }
            }
            if url.database != 0 { _ = try command(["SELECT", String(url.database)]) }
        } catch {
            close()
            throw error
        }
    }

    /// Sends one command and waits for its reply. An error reply throws `.server`.
    @discardableResult
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try command(bytes: arguments.map { Array($0.utf8) })
    }

    /// Sends one command given as raw byte arguments.
    @discardableResult
    public func command(bytes arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        let reply = try roundTrip(arguments)
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends several commands in one write and reads their replies in order.
    /// Error replies are returned in place, not thrown.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        guard let context else { throw .connection("not connected to \(url)") }
        for arguments in commands {
            let status = Self.withArgv(arguments.map { Array($0.utf8) }) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw brokenConnection() }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw brokenConnection() }
            let typed = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(typed))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Runs a blocking command (BLMOVE, BZPOPMIN, XREAD BLOCK) whose server-side wait is
    /// `wait`: the socket timeout is widened for this call only.
    public func blockingCommand(_ arguments: [String], wait: Duration) throws(RedisError) -> RedisReply {
        guard let context else { throw .connection("not connected to \(url)") }
        redisSetTimeout(context, Self.timeval(wait + options.commandTimeout))
        defer { if let current = self.context { redisSetTimeout(current, Self.timeval(options.commandTimeout)) } }
        return try command(arguments)
    }

    private func roundTrip(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        guard let context else { throw .connection("not connected to \(url)") }
        let raw = Self.withArgv(arguments) { argc, argv, lengths in
            redisCommandArgv(context, argc, argv, lengths)
        }
        guard let raw else { throw brokenConnection() }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// hiredis leaves a context unusable after an I/O error: free it so the next call reconnects.
    private func brokenConnection() -> RedisError {
        let message = context.map(Self.contextError) ?? "not connected"
        close()
        return .connection("connection to \(url) broke: \(message)")
    }

    private static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        // One contiguous buffer for all arguments keeps this to two allocations.
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(0) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(storage.count)
            lengths.append(argument.count)
            storage.append(contentsOf: argument)
        }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            var argv: [UnsafePointer<CChar>?] = offsets.map {
                base.advanced(by: $0).assumingMemoryBound(to: CChar.self)
            }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(arguments.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch Int32(value.type) {
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_STRING:
            return .bulk(bytes(value.str, value.len))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(value.elements))
            for index in 0..<Int(value.elements) {
                if let element = value.element[index] { items.append(convert(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    private static func contextError(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let chars = raw.bindMemory(to: CChar.self)
            return String(cString: chars.baseAddress!)
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
