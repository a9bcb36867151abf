import RedisClient
import Testing

@Suite("RedisURL")
struct RedisURLTests {
    @Test("host, port, database, user and password")
    func tcpForms() throws {
        #expect(try RedisURL(parsing: "redis://127.0.0.1") == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379)))
        let full = try RedisURL(parsing: "redis://worker:p%40ss@redis.internal:6380/3")
        #expect(full.topology == .single(.tcp(host: "redis.internal", port: 6380)))
        #expect(full.username == "worker")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        #expect(full.tls == nil)
        let passwordOnly = try RedisURL(parsing: "redis://:secret@localhost/1")
        #expect(passwordOnly.username == nil && passwordOnly.password == "secret" && passwordOnly.database == 1)
        #expect(try RedisURL(parsing: "redis://[::1]:7000").topology == .single(.tcp(host: "::1", port: 7000)))
    }

    @Test("unix sockets with db and credentials in the query")
    func unixForms() throws {
        let url = try RedisURL(parsing: "unix:///run/redis/redis.sock?db=2&user=u&password=p")
        #expect(url.topology == .single(.unixSocket(path: "/run/redis/redis.sock")))
        #expect(url.database == 2 && url.username == "u" && url.password == "p")
    }

    @Test("rediss:// takes the TLS files; a plain URL with TLS files is refused")
    func tlsForms() throws {
        let files = RedisTLSOptions(environment: ["MW_REDIS_TLS_CA": "/etc/ca.pem", "MW_REDIS_TLS_CERT": "c.pem", "MW_REDIS_TLS_KEY": "k.pem",
                                                  "MW_REDIS_TLS_SERVER_NAME": "redis.internal", "UNRELATED": "x"])
        let url = try RedisURL(parsing: "rediss://u:p@10.0.0.5:6380/2", tls: files)
        #expect(url.topology == .single(.tcp(host: "10.0.0.5", port: 6380)) && url.database == 2)
        #expect(url.tls == RedisTLSOptions(caFile: "/etc/ca.pem", certificateFile: "c.pem", keyFile: "k.pem", serverName: "redis.internal"))
        #expect(try RedisURL(parsing: "rediss://h").tls == RedisTLSOptions())
        #expect(throws: RedisError.self) { try RedisURL(parsing: "redis://h", tls: files) }
        #expect(try RedisURL(parsing: "rediss://h").description.hasPrefix("rediss://"))
    }

    @Test("cluster seeds and sentinel groups, with and without TLS")
    func topologies() throws {
        let cluster = try RedisURL(parsing: "redis+cluster://:pw@n1:7000,n2:7001,n3")
        #expect(cluster.topology == .cluster(seeds: [.tcp(host: "n1", port: 7000), .tcp(host: "n2", port: 7001), .tcp(host: "n3", port: 6379)]))
        #expect(cluster.password == "pw" && cluster.tls == nil)
        #expect(try RedisURL(parsing: "rediss+cluster://n1:7000").tls != nil)
        let sentinel = try RedisURL(parsing: "redis+sentinel://user:pw@s1:26379,s2,s3:26380/mymaster/4")
        #expect(sentinel.topology == .sentinel(seeds: [.tcp(host: "s1", port: 26379), .tcp(host: "s2", port: 26379), .tcp(host: "s3", port: 26380)],
                                               master: "mymaster"))
        #expect(sentinel.database == 4 && sentinel.username == "user" && sentinel.password == "pw")
        #expect(try RedisURL(parsing: "rediss+sentinel://s1/m").tls != nil)
        #expect(try RedisURL(parsing: "redis+sentinel://s1/m").database == 0)
        #expect(!sentinel.description.contains("pw") && !cluster.description.contains("pw"))
    }

    @Test("bad URLs are refused with a reason", arguments: [
        "", "localhost:6379", "http://localhost", "redis://", "redis://h:99999", "redis://h/x", "unix://relative",
        "redis://a,b", "redis+cluster://", "redis+cluster://a:1,", "redis+cluster://a/3", "redis+sentinel://s1", "redis+sentinel://s1/m/x",
        "redis+sentinel://s1/m/1/2", "redis://h:port",
    ])
    func refused(text: String) {
        #expect(throws: RedisError.self) { try RedisURL(parsing: text) }
    }

    @Test("the description never shows the password")
    func redacted() throws {
        let url = try RedisURL(parsing: "redis://worker:hunter2@h:1/0")
        #expect(!url.description.contains("hunter2"))
        #expect(url.description.contains("worker"))
    }

    @Test("hash slots: Redis's own values, hash tags")
    func slots() {
        // Values from `redis-cli CLUSTER KEYSLOT`.
        #expect(ClusterSlots.slot(of: "foo") == 12182)
        #expect(ClusterSlots.slot(of: "123456789") == 12739)
        #expect(ClusterSlots.slot(of: "mw:{default}:inbox") == ClusterSlots.slot(of: "default"))
        // Redis's documentation: the same tag, the same slot; an empty tag hashes the whole key.
        #expect(ClusterSlots.slot(of: "{user1000}.following") == ClusterSlots.slot(of: "{user1000}.followers"))
        #expect(ClusterSlots.slot(of: "{}foo") != ClusterSlots.slot(of: "foo"))
        #expect(ClusterSlots.slot(of: "foo{}{bar}") != ClusterSlots.slot(of: "bar"))
        #expect(ClusterSlots.routingKey(of: ["EVALSHA", "abc", "1", "mw:{q}:inbox", "x"]) == "mw:{q}:inbox")
        #expect(ClusterSlots.routingKey(of: ["XREAD", "COUNT", "5", "STREAMS", "mw:{q}:events", "0"]) == "mw:{q}:events")
        #expect(ClusterSlots.routingKey(of: ["CLIENT", "ID"]) == nil)
        #expect(ClusterSlots.routingKey(of: ["HGETALL", "mw:{q}:job:1"]) == "mw:{q}:job:1")
    }
}
