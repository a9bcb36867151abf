import Crypto

/// A Lua script the client runs by its SHA-1 (EVALSHA), loading it into a server the first time
/// and again after the server forgets it (NOSCRIPT). A script may have a variant for Redis Cluster
/// (the queue's scripts start with a slot-migration guard there).
public struct RedisScript: Sendable, Hashable {
    public let name: String
    /// The source run on one server and on Sentinel groups.
    public let source: String
    public let sha1: String
    /// The source run on Redis Cluster.
    public let clusterSource: String
    public let clusterSHA1: String

    public init(name: String, source: String, clusterSource: String? = nil) {
        self.name = name
        self.source = source
        self.clusterSource = clusterSource ?? source
        self.sha1 = Self.sha1(source)
        self.clusterSHA1 = clusterSource.map(Self.sha1) ?? sha1
    }

    /// The variant for a server of this kind.
    func variant(cluster: Bool) -> (source: String, sha1: String) {
        cluster ? (clusterSource, clusterSHA1) : (source, sha1)
    }

    static func sha1(_ text: String) -> String {
        lowercaseHex(Insecure.SHA1.hash(data: Array(text.utf8)))
    }
}
