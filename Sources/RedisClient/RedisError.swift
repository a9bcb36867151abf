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
    /// TLS could not be set up or the server's certificate was refused (wrong CA, wrong name,
    /// a client certificate the server refused): fixing it needs the operator, not a retry.
    case tls(String)
    /// A cluster or sentinel topology could not be learned (no seed answered, no master known).
    case topology(String)

    public var code: String {
        switch self {
        case .invalidURL: return "REDIS_INVALID_URL"
        case .connection: return "REDIS_CONNECTION"
        case .server: return "REDIS_SERVER_ERROR"
        case .unexpectedReply: return "REDIS_UNEXPECTED_REPLY"
        case .tls: return "REDIS_TLS"
        case .topology: return "REDIS_TOPOLOGY"
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let m), .connection(let m), .server(let m), .unexpectedReply(let m), .tls(let m), .topology(let m):
            return "\(code): \(m)"
        }
    }

    /// A broken connection is worth retrying after reconnecting; other errors are not. A refused
    /// certificate or an unknown topology is retried too (certificates get rotated, a cluster
    /// comes up), but the daemon refuses to start on one (`isConfigurationError`).
    public var isConnectionError: Bool {
        switch self {
        case .connection, .tls, .topology: return true
        default: return false
        }
    }

    /// An error the operator must fix: refused at start-up rather than retried for ever.
    public var isConfigurationError: Bool {
        switch self {
        case .invalidURL, .tls: return true
        default: return false
        }
    }
}
