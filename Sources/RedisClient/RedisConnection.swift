import CHiredis
import CRedisTransport
import Foundation
import Metrics

/// One connection to one Redis server: our socket (TCP, unix, or TLS over TCP) with hiredis as
/// the protocol layer (its formatter writes RESP, its reader parses replies).
///
/// The actor runs on a thread of its own (or its owner's: `RedisLink`), so a blocking call (a
/// command, or a blocking pop waiting for work) never occupies Swift's shared threads, and
/// commands on one connection never interleave.
public actor RedisConnection {
    public struct Options: Sendable {
        /// Limit on establishing the connection (TCP and the TLS handshake).
        public var connectTimeout: Duration
        /// Limit on one command's round trip; blocking commands add their own wait to it.
        public var commandTimeout: Duration

        public init(connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)) {
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }
    }

    /// Which server, and how to log in to it.
    public struct Target: Sendable, Hashable, CustomStringConvertible {
        public var endpoint: RedisURL.Endpoint
        public var username: String?
        public var password: String?
        public var database: Int
        public var tls: RedisTLSOptions?

        public init(endpoint: RedisURL.Endpoint, username: String? = nil, password: String? = nil, database: Int = 0, tls: RedisTLSOptions? = nil) {
            self.endpoint = endpoint
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
        }

        public var description: String { "\(tls == nil ? "" : "tls://")\(endpoint)/\(database)" }
    }

    public let target: Target
    public let options: Options
    private let executor: DedicatedThreadExecutor
    private let ownsExecutor: Bool
    private nonisolated(unsafe) var stream: OpaquePointer?
    private nonisolated(unsafe) var reader: UnsafeMutablePointer<redisReader>
    private var readBuffer = [CChar](repeating: 0, count: 64 * 1024)

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Connects to a single server's URL (`redis://`, `rediss://`, `unix://`).
    public init(url: RedisURL, options: Options = Options()) async throws(RedisError) {
        guard case .single(let endpoint) = url.topology else {
            throw .invalidURL("a connection is to one server; use RedisClient for \(url)")
        }
        try await self.init(target: Target(endpoint: endpoint, username: url.username, password: url.password, database: url.database, tls: url.tls),
                            options: options)
    }

    /// Connects, authenticates and selects the database. With `executor`, the connection runs
    /// on that thread (its owner's, so that the owner reaches it without a hop); without, on a
    /// thread of its own.
    public init(target: Target, options: Options = Options(), executor: DedicatedThreadExecutor? = nil) async throws(RedisError) {
        self.target = target
        self.options = options
        self.ownsExecutor = executor == nil
        self.executor = executor ?? DedicatedThreadExecutor(name: "redis-connection")
        self.reader = redisReaderCreate()
        try connect()
    }

    deinit {
        if let stream { mw_stream_close(stream) }
        redisReaderFree(reader)
        if ownsExecutor { executor.shutdown() }
    }

    public var isConnected: Bool { stream != nil }

    /// Drops the current socket (if any) and connects again.
    public func reconnect() throws(RedisError) {
        close()
        try connect()
    }

    public func close() {
        if let stream { mw_stream_close(stream) }
        stream = nil
        // A reply half read belongs to the dead socket.
        redisReaderFree(reader)
        reader = redisReaderCreate()
    }

    private func connect() throws(RedisError) {
        var status: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let timeout = Self.milliseconds(options.connectTimeout)
        let opened: OpaquePointer?
        switch target.endpoint {
        case .tcp(let host, let port):
            let tls = try target.tls.map { options throws(RedisError) in try RedisTLSContext.shared(for: options) }
            // The context must outlive the call (a reload may drop the cache's reference meanwhile).
            opened = withExtendedLifetime(tls) {
                mw_stream_connect_tcp(host, Int32(port), timeout, tls?.pointer, tls?.serverName ?? target.tls?.serverName,
                                      &status, &message, message.count)
            }
        case .unixSocket(let path):
            opened = mw_stream_connect_unix(path, timeout, &status, &message, message.count)
        }
        guard let opened else {
            let reason = String(cString: message)
            if status == MW_STREAM_TLS_VERIFY || status == MW_STREAM_TLS {
                throw .tls("cannot connect to \(target): \(reason)")
            }
            throw .connection("cannot connect to \(target): \(reason)")
        }
        mw_stream_set_timeout(opened, Self.milliseconds(options.commandTimeout))
        stream = opened
        do {
            if let password = target.password {
                if let username = target.username {
                    _ = try command(["AUTH", username, password])
                } else {
                    _ = try command(["AUTH", password])
                }
            }
            if target.database != 0 { _ = try command(["SELECT", String(target.database)]) }
        } catch {
            close()
            throw error
        }
    }

    /// Sends one command and waits for its reply. An error reply throws `.server`.
    @discardableResult
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try send([arguments])
        let reply = try readReply()
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends one command given as raw byte arguments.
    @discardableResult
    public func command(bytes arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try send(bytes: arguments)
        let reply = try readReply()
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends several commands in one write and reads their replies in order.
    /// Error replies are returned in place, not thrown.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        try send(commands)
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply()) }
        return replies
    }

    /// Runs a blocking command (BLMOVE, BZPOPMIN, XREAD BLOCK) whose server-side wait is
    /// `wait`: the socket timeout is widened for this call only.
    public func blockingCommand(_ arguments: [String], wait: Duration) throws(RedisError) -> RedisReply {
        guard let stream else { throw .connection("not connected to \(target)") }
        mw_stream_set_timeout(stream, Self.milliseconds(wait + options.commandTimeout))
        defer { if let current = self.stream { mw_stream_set_timeout(current, Self.milliseconds(options.commandTimeout)) } }
        return try command(arguments)
    }

    /// Writes to Redis, each answered by a read: what the queue benchmark's cost model counts
    /// per job (`mw_redis_round_trips_total`).
    private static let roundTrips = Counter(label: "mw_redis_round_trips_total")

    /// Writes every command in one go (RESP written by `RESPWriter`, no intermediate copies).
    private func send(_ commands: [[String]]) throws(RedisError) {
        var wire: [UInt8] = []
        wire.reserveCapacity(commands.reduce(0) { total, command in command.reduce(total + 16) { $0 + $1.utf8.count + 16 } })
        for arguments in commands { RESPWriter.append(arguments, to: &wire) }
        try write(wire)
    }

    private func send(bytes arguments: [[UInt8]]) throws(RedisError) {
        var wire: [UInt8] = []
        wire.reserveCapacity(arguments.reduce(16) { $0 + $1.count + 16 })
        RESPWriter.append(arguments, to: &wire)
        try write(wire)
    }

    private func write(_ wire: [UInt8]) throws(RedisError) {
        guard let stream else { throw .connection("not connected to \(target)") }
        Self.roundTrips.increment()
        var message = [CChar](repeating: 0, count: 256)
        let status = wire.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { mw_stream_write_all(stream, $0.baseAddress, $0.count, &message, message.count) }
        }
        if status != MW_STREAM_OK { throw streamFailure(Int(status), String(cString: message)) }
    }

    /// On a subscribed connection (`SUBSCRIBE` sent with `command`): the next message the server
    /// pushes, or nil when none began within `wait`; the connection stays usable after a nil.
    public func nextMessage(wait: Duration) throws(RedisError) -> RedisReply? {
        if let reply = try bufferedReply() { return reply }
        guard let stream else { throw .connection("not connected to \(target)") }
        mw_stream_set_timeout(stream, Self.milliseconds(wait))
        var message = [CChar](repeating: 0, count: 256)
        let count = readBuffer.withUnsafeMutableBufferPointer { mw_stream_read(stream, $0.baseAddress, $0.count, &message, message.count) }
        mw_stream_set_timeout(stream, Self.milliseconds(options.commandTimeout))
        // Nothing of a message yet: a quiet channel, not a failure.
        if count == Int(MW_STREAM_TIMEOUT) && reader.pointee.len <= reader.pointee.pos { return nil }
        guard count > 0 else { throw streamFailure(count, String(cString: message)) }
        let fed = readBuffer.withUnsafeBufferPointer { redisReaderFeed(reader, $0.baseAddress, count) }
        guard fed == REDIS_OK else { throw brokenConnection("protocol error: \(Self.readerError(reader))") }
        return try readReply()
    }

    /// A whole reply already read from the socket, if there is one.
    private func bufferedReply() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw brokenConnection("protocol error: \(Self.readerError(reader))")
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// The next reply: from what was already read, or reading more.
    private func readReply() throws(RedisError) -> RedisReply {
        while true {
            if let reply = try bufferedReply() { return reply }
            guard let stream else { throw .connection("not connected to \(target)") }
            var message = [CChar](repeating: 0, count: 256)
            let count = readBuffer.withUnsafeMutableBufferPointer { mw_stream_read(stream, $0.baseAddress, $0.count, &message, message.count) }
            guard count > 0 else { throw streamFailure(count, String(cString: message)) }
            let fed = readBuffer.withUnsafeBufferPointer { redisReaderFeed(reader, $0.baseAddress, count) }
            guard fed == REDIS_OK else { throw brokenConnection("protocol error: \(Self.readerError(reader))") }
        }
    }

    /// A failed read or write: a TLS refusal (an alert, a certificate the server wanted) is the
    /// operator's to fix; anything else is a broken connection.
    private func streamFailure(_ status: Int, _ reason: String) -> RedisError {
        guard status == Int(MW_STREAM_TLS) else { return brokenConnection(reason) }
        close()
        return .tls("\(target) ended TLS: \(reason)")
    }

    /// After an I/O error or a timeout the connection's state is unknown (a reply may still
    /// come): drop it so the next call reconnects.
    private func brokenConnection(_ reason: String) -> RedisError {
        close()
        return .connection("connection to \(target) broke: \(reason)")
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

    private static func readerError(_ reader: UnsafeMutablePointer<redisReader>) -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(1, duration.milliseconds))
    }
}
