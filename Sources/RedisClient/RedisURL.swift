import Foundation

/// Where and how to reach Redis, parsed from `MW_REDIS_URL`.
///
/// Accepted forms (an `s` after `redis` means TLS):
/// - `redis[s]://[[user]:password@]host[:port][/db]`: one server
/// - `unix:///path/to/redis.sock[?db=N&user=U&password=P]`
/// - `redis[s]+cluster://[[user]:password@]h1:p1,h2:p2`: seed nodes of a Redis Cluster
/// - `redis[s]+sentinel://[[user]:password@]h1:p1,h2:p2/<master-name>[/<db>]`: Sentinels, and the
///   name of the master they watch; the user and password are the master's (and the replicas')
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// One server's address.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixSocket(let path): return path
            }
        }
    }

    /// How the servers are arranged.
    public enum Topology: Sendable, Equatable {
        case single(Endpoint)
        case cluster(seeds: [Endpoint])
        case sentinel(seeds: [Endpoint], master: String)
    }

    public var topology: Topology
    public var username: String?
    public var password: String?
    public var database: Int
    /// nil: plain TCP. Set by the `rediss` schemes; files from `MW_REDIS_TLS_*`.
    public var tls: RedisTLSOptions?

    public init(topology: Topology, username: String? = nil, password: String? = nil, database: Int = 0, tls: RedisTLSOptions? = nil) {
        self.topology = topology
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.init(topology: .single(endpoint), username: username, password: password, database: database)
    }

    public static let defaultPort = 6379
    public static let defaultSentinelPort = 26379

    /// `tls` gives the certificate files for the `rediss` schemes (they use the system's trust
    /// store without it); a plain scheme with `tls` is refused, so no option is silently ignored.
    public init(parsing text: String, tls options: RedisTLSOptions = RedisTLSOptions()) throws(RedisError) {
        guard let schemeEnd = text.range(of: "://") else { throw .invalidURL("not a URL") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = String(text[schemeEnd.upperBound...])
        let secure = scheme.hasPrefix("rediss")
        if !secure && options.isConfigured {
            throw .invalidURL("MW_REDIS_TLS_* is set but the URL is not rediss://, rediss+cluster:// or rediss+sentinel://")
        }
        let tls = secure ? options : nil
        switch scheme {
        case "redis", "rediss":
            let (auth, hosts, path) = try Self.split(rest)
            guard hosts.count == 1 else { throw .invalidURL("one host expected; a cluster is redis+cluster://h1:p1,h2:p2") }
            let endpoint = try Self.endpoint(hosts[0], defaultPort: Self.defaultPort)
            self.init(topology: .single(endpoint), username: auth.user, password: auth.password,
                      database: try Self.database(path.first), tls: tls)
            guard path.count <= 1 else { throw .invalidURL("the path is the database number only") }
        case "redis+cluster", "rediss+cluster":
            let (auth, hosts, path) = try Self.split(rest)
            guard path.isEmpty || path == ["0"] else { throw .invalidURL("a cluster has database 0 only") }
            self.init(topology: .cluster(seeds: try Self.endpoints(hosts, defaultPort: Self.defaultPort)),
                      username: auth.user, password: auth.password, database: 0, tls: tls)
        case "redis+sentinel", "rediss+sentinel":
            let (auth, hosts, path) = try Self.split(rest)
            guard let master = path.first, !master.isEmpty else { throw .invalidURL("the master's name is missing: redis+sentinel://h1:p1,h2:p2/<master-name>") }
            guard path.count <= 2 else { throw .invalidURL("the path is /<master-name>[/<db>]") }
            self.init(topology: .sentinel(seeds: try Self.endpoints(hosts, defaultPort: Self.defaultSentinelPort), master: master),
                      username: auth.user, password: auth.password, database: try Self.database(path.count == 2 ? path[1] : nil), tls: tls)
        case "unix", "redis+unix":
            guard let components = URLComponents(string: text) else { throw .invalidURL("not a URL") }
            let query = Dictionary(
                (components.queryItems ?? []).map { ($0.name.lowercased(), $0.value ?? "") },
                uniquingKeysWith: { _, last in last })
            let path = components.path
            guard path.hasPrefix("/") else { throw .invalidURL("unix socket path must be absolute") }
            self.init(endpoint: .unixSocket(path: path), username: query["user"].flatMap { $0.isEmpty ? nil : $0 },
                      password: query["password"] ?? components.password, database: try Self.database(query["db"]))
        default:
            throw .invalidURL("scheme must be redis://, rediss://, unix://, redis[s]+cluster:// or redis[s]+sentinel://")
        }
    }

    /// `[user[:password]@]hosts[/path…]` → credentials, host texts, path segments.
    private static func split(_ text: String) throws(RedisError) -> (auth: (user: String?, password: String?), hosts: [String], path: [String]) {
        var rest = Substring(text)
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = auth.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let decodedUser = String(parts[0]).removingPercentEncoding else { throw .invalidURL("bad user") }
            user = decodedUser.isEmpty ? nil : decodedUser
            if parts.count == 2 {
                guard let decoded = String(parts[1]).removingPercentEncoding else { throw .invalidURL("bad password") }
                password = decoded
            }
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hosts = rest[..<slash].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.isEmpty }) else { throw .invalidURL("missing host") }
        let path = rest[slash...].split(separator: "/").map(String.init)
        return ((user, password), hosts, path)
    }

    private static func endpoints(_ texts: [String], defaultPort: Int) throws(RedisError) -> [Endpoint] {
        var endpoints: [Endpoint] = []
        for text in texts { endpoints.append(try endpoint(text, defaultPort: defaultPort)) }
        return endpoints
    }

    /// `host[:port]` or `[v6]:port`.
    private static func endpoint(_ text: String, defaultPort: Int) throws(RedisError) -> Endpoint {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidURL("bad IPv6 address") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { throw .invalidURL("bad port") }
                port = number
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            guard let number = Int(text[text.index(after: colon)...]) else { throw .invalidURL("bad port") }
            port = number
        }
        guard !host.isEmpty else { throw .invalidURL("missing host") }
        guard (1...65535).contains(port) else { throw .invalidURL("port out of range") }
        return .tcp(host: host, port: port)
    }

    private static func database(_ text: String?) throws(RedisError) -> Int {
        guard let text else { return 0 }
        guard let index = Int(text), index >= 0 else { throw .invalidURL("database must be a number") }
        return index
    }

    /// The URL without its password, safe for logs.
    public var description: String {
        let auth = username.map { "\($0):***@" } ?? (password != nil ? ":***@" : "")
        let s = tls == nil ? "" : "s"
        switch topology {
        case .single(.unixSocket(let path)): return "unix://\(path)?db=\(database)"
        case .single(let endpoint): return "redis\(s)://\(auth)\(endpoint)/\(database)"
        case .cluster(let seeds): return "redis\(s)+cluster://\(auth)\(seeds.map(\.description).joined(separator: ","))"
        case .sentinel(let seeds, let master): return "redis\(s)+sentinel://\(auth)\(seeds.map(\.description).joined(separator: ","))/\(master)/\(database)"
        }
    }
}

/// TLS settings for the `rediss` schemes: `MW_REDIS_TLS_CA` (a PEM file; the system's trust store
/// without it), `MW_REDIS_TLS_CERT` and `MW_REDIS_TLS_KEY` (a client certificate), and
/// `MW_REDIS_TLS_SERVER_NAME` (the name the certificate must carry, when it is not the host's).
public struct RedisTLSOptions: Sendable, Hashable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// Reads `MW_REDIS_TLS_*` (empty values count as unset).
    public init(environment: [String: String]) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(caFile: value("MW_REDIS_TLS_CA"), certificateFile: value("MW_REDIS_TLS_CERT"),
                  keyFile: value("MW_REDIS_TLS_KEY"), serverName: value("MW_REDIS_TLS_SERVER_NAME"))
    }

    public var isConfigured: Bool { caFile != nil || certificateFile != nil || keyFile != nil || serverName != nil }
}
