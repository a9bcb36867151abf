import QueueClient
import Testing

@Suite("RedisURL")
struct RedisURLTests {
    @Test("host, port, database, user and password")
    func tcpForms() throws {
        #expect(try RedisURL(parsing: "redis://127.0.0.1") == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379)))
        let full = try RedisURL(parsing: "redis://worker:p%40ss@redis.internal:6380/3")
        #expect(full.endpoint == .tcp(host: "redis.internal", port: 6380))
        #expect(full.username == "worker")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        let passwordOnly = try RedisURL(parsing: "redis://:secret@localhost/1")
        #expect(passwordOnly.username == nil && passwordOnly.password == "secret" && passwordOnly.database == 1)
    }

    @Test("unix sockets with db and credentials in the query")
    func unixForms() throws {
        let url = try RedisURL(parsing: "unix:///run/redis/redis.sock?db=2&user=u&password=p")
        #expect(url.endpoint == .unixSocket(path: "/run/redis/redis.sock"))
        #expect(url.database == 2 && url.username == "u" && url.password == "p")
    }

    @Test("bad URLs are refused with a reason", arguments: [
        "", "localhost:6379", "http://localhost", "redis://", "redis://h:99999", "redis://h/x", "rediss://h", "unix://relative",
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
}
