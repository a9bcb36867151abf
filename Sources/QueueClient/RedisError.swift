/// Failures talking to Redis. `code` is the stable name used in logs and events.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `MW_REDIS_URL` could not be understood.
    case invalidURL(String)
    /// The connection could not be made, or broke (I/O error, EOF, timeout).
    case connection(String)
    /// Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`, `-WRONGPASS ...`).
    case server(String)
    /// A reply had a shape the caller did not expect.
    case unexpectedReply(String)

    public var code: String {
        switch self {
        case .invalidURL: return "REDIS_INVALID_URL"
        case .connection: return "REDIS_CONNECTION"
        case .server: return "REDIS_SERVER_ERROR"
        case .unexpectedReply: return "REDIS_UNEXPECTED_REPLY"
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let m), .connection(let m), .server(let m), .unexpectedReply(let m):
            return "\(code): \(m)"
        }
    }

    /// A broken connection is worth retrying after reconnecting; other errors are not.
    public var isConnectionError: Bool {
        if case .connection = self { return true }
        return false
    }
}
