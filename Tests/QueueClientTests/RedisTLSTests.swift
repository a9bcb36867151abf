import Foundation
import JobContract
import QueueClient
import Testing
import TestSupport

/// `rediss://` against a real `redis-server --tls-port` with a CA of the test's own.
@Suite("Redis over TLS", .serialized)
struct RedisTLSTests {
    static func url(_ server: RedisServer, _ options: RedisTLSOptions) throws -> RedisURL {
        try RedisURL(parsing: "rediss://127.0.0.1:\(server.port)/0", tls: options)
    }

    @Test("rediss:// with the test CA: commands, a pipeline, scripts and a job's round trip")
    func verified() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await RedisServer.with(.init(tls: certificates)) { server in
            let url = try Self.url(server, RedisTLSOptions(caFile: certificates.caCertificate))
            let connection = try await RedisConnection(url: url)
            #expect(try await connection.command(["PING"]) == .status("PONG"))
            // Replies larger than one TLS record and one read.
            let big = String(repeating: "x", count: 300_000)
            try await connection.command(["SET", "big", big])
            #expect(try await connection.command(["GET", "big"]).string == big)
            let replies = try await connection.pipeline((0..<500).map { ["INCR", "n\($0 % 7)"] })
            #expect(replies.count == 500 && replies.last == .integer(72))

            let client = RedisClient(url: url)
            let queue = JobQueue(name: "tls", client: client, actor: "test")
            try await client.command(["RPUSH", queue.inboxKey, "{}"])
            let claimed = try await queue.claim(max: 1, worker: "test")
            let job = NewJob(id: "j1", type: "noop", priority: .normal, maxAttempts: 3, runAtMilliseconds: nil, payload: #"{"id":"j1"}"#, metadataJSON: "{}")
            #expect(try await queue.ingest(.jobs([job]), item: claimed[0], worker: "test") == ["queued"])
            let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
            #expect(delivery.id == "j1")
            #expect(try await queue.complete(id: delivery.id, token: delivery.token, dataJSON: "{}"))
            #expect(try await queue.record(id: "j1")?.state == .completed)

            // A producer in redis-py takes the same URL and MW_REDIS_TLS_CA (the tests' helper).
            let jobs = certificates.directory.appendingPathComponent("jobs.jsonl").path
            try #"{"id":"py1","type":"noop"}"#.write(toFile: jobs, atomically: true, encoding: .utf8)
            let pushed = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                     [ProjectPaths.scripts.appendingPathComponent("test/mw_redis.py").path, server.url, "tls", jobs],
                                                     environment: ["MW_REDIS_TLS_CA": certificates.caCertificate])
            #expect(pushed.succeeded && pushed.stdout.hasPrefix("1"), "\(pushed.stdout) \(pushed.stderr)")
            #expect(try await client.command(["LLEN", queue.inboxKey]) == .integer(1))
            await client.close()
        }
    }

    @Test("the server's name: MW_REDIS_TLS_SERVER_NAME must match the certificate")
    func serverName() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await RedisServer.with(.init(tls: certificates)) { server in
            let named = try Self.url(server, RedisTLSOptions(caFile: certificates.caCertificate, serverName: "redis.test"))
            #expect(try await RedisConnection(url: named).command(["PING"]) == .status("PONG"))
            let wrong = try Self.url(server, RedisTLSOptions(caFile: certificates.caCertificate, serverName: "elsewhere.test"))
            let error = await #expect(throws: RedisError.self) { _ = try await RedisConnection(url: wrong) }
            #expect(error?.code == "REDIS_TLS")
            #expect("\(error.map { "\($0)" } ?? "")".contains("not trusted"))
        }
    }

    @Test("a wrong CA is refused, with a clear reason; never a fallback to plain text")
    func wrongCA() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await RedisServer.with(.init(tls: certificates)) { server in
            let url = try Self.url(server, RedisTLSOptions(caFile: certificates.otherCACertificate))
            let error = await #expect(throws: RedisError.self) { _ = try await RedisConnection(url: url) }
            #expect(error?.code == "REDIS_TLS")
            #expect(error?.isConfigurationError == true)
            #expect("\(error.map { "\($0)" } ?? "")".contains("certificate"))
            // The system store does not know the test CA either.
            let system = try Self.url(server, RedisTLSOptions())
            await #expect(throws: RedisError.self) { _ = try await RedisConnection(url: system) }
            // A plain client on the TLS port gets nothing it can read as Redis.
            let plain = try RedisURL(parsing: "redis://127.0.0.1:\(server.port)/0")
            await #expect(throws: RedisError.self) {
                let connection = try await RedisConnection(url: plain, options: .init(connectTimeout: .seconds(1), commandTimeout: .seconds(1)))
                _ = try await connection.command(["PING"])
            }
        }
    }

    @Test("a server that requires client certificates: refused without one, served with one")
    func clientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await RedisServer.with(.init(tls: certificates, requireClientCertificate: true)) { server in
            let without = try Self.url(server, RedisTLSOptions(caFile: certificates.caCertificate))
            let error = await #expect(throws: RedisError.self) {
                let connection = try await RedisConnection(url: without)
                _ = try await connection.command(["PING"])
            }
            #expect(error?.code == "REDIS_TLS", "\(String(describing: error))")
            let with = try Self.url(server, RedisTLSOptions(caFile: certificates.caCertificate, certificateFile: certificates.clientCertificate,
                                                              keyFile: certificates.clientKey))
            #expect(try await RedisConnection(url: with).command(["PING"]) == .status("PONG"))
        }
    }

    @Test("bad certificate files are refused before any connection")
    func badFiles() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        #expect(throws: RedisError.self) { try RedisTLSOptions(caFile: "/nonexistent/ca.pem").validate() }
        #expect(throws: RedisError.self) { try RedisTLSOptions(caFile: certificates.serverKey).validate() }
        #expect(throws: RedisError.self) { try RedisTLSOptions(certificateFile: certificates.clientCertificate).validate() }
        #expect(throws: RedisError.self) {
            try RedisTLSOptions(certificateFile: certificates.clientCertificate, keyFile: certificates.serverKey).validate()
        }
        try RedisTLSOptions(caFile: certificates.caCertificate, certificateFile: certificates.clientCertificate, keyFile: certificates.clientKey).validate()
    }
}
