import Foundation

/// Where and how to reach Redis, parsed from `MW_REDIS_URL`.
///
/// Accepted forms:
/// - `redis://[[user]:password@]host[:port][/db]`
/// - `unix:///path/to/redis.sock[?db=N&user=U&password=P]`
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    public static let defaultPort = 6379

    public init(parsing text: String) throws(RedisError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw .invalidURL("not a URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name.lowercased(), $0.value ?? "") },
            uniquingKeysWith: { _, last in last })
        switch scheme {
        case "redis":
            guard let host = components.host, !host.isEmpty else { throw .invalidURL("missing host") }
            let port = components.port ?? Self.defaultPort
            guard (1...65535).contains(port) else { throw .invalidURL("port out of range") }
            var database = 0
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let index = Int(path), index >= 0 else { throw .invalidURL("database must be a number") }
                database = index
            }
            let user = components.user.flatMap { $0.isEmpty ? nil : $0 }
            self.init(endpoint: .tcp(host: host, port: port), username: user,
                      password: components.password, database: database)
        case "unix", "redis+unix":
            let path = components.path
            guard path.hasPrefix("/") else { throw .invalidURL("unix socket path must be absolute") }
            var database = 0
            if let db = query["db"] {
                guard let index = Int(db), index >= 0 else { throw .invalidURL("database must be a number") }
                database = index
            }
            self.init(endpoint: .unixSocket(path: path), username: query["user"].flatMap { $0.isEmpty ? nil : $0 },
                      password: query["password"] ?? components.password, database: database)
        case "rediss":
            throw .invalidURL("TLS (rediss://) is not supported; use a local TLS proxy")
        default:
            throw .invalidURL("scheme must be redis:// or unix://")
        }
    }

    /// The URL without its password, safe for logs.
    public var description: String {
        let auth = username.map { "\($0):***@" } ?? (password != nil ? ":***@" : "")
        switch endpoint {
        case .tcp(let host, let port): return "redis://\(auth)\(host):\(port)/\(database)"
        case .unixSocket(let path): return "unix://\(path)?db=\(database)"
        }
    }
}
