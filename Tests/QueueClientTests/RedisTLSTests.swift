import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport
import Testing

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

    @Test("a CA and a client certificate rotated at the same paths are used from the next connection on, without a restart")
    func rotatedFilesReloaded() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let dir = certificates.directory
        // A client certificate the server does not trust: signed by the other CA.
        let openssl = try ProjectPaths.tool("openssl", package: "openssl")
        let signed = try await CommandRunner.run(openssl, ["x509", "-req", "-in", "client.csr", "-CA", "other-ca.crt", "-CAkey", "other-ca.key",
                                                            "-CAcreateserial", "-days", "2", "-extfile", "client.ext", "-out", "client-other.crt"],
                                                 directory: dir.path, timeout: .seconds(60))
        #expect(signed.succeeded, "\(signed.stderr)")
        let live = dir.appendingPathComponent("live")
        try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
        /// Puts a file in place the way rotation tools do: written aside, renamed over.
        func install(_ source: String, as name: String) throws {
            let aside = live.appendingPathComponent("." + name + ".new")
            try? FileManager.default.removeItem(at: aside)
            try FileManager.default.copyItem(atPath: source, toPath: aside.path)
            #expect(rename(aside.path, live.appendingPathComponent(name).path) == 0)
        }
        try install(certificates.otherCACertificate, as: "ca.pem")
        try install(dir.appendingPathComponent("client-other.crt").path, as: "client.pem")
        try install(certificates.clientKey, as: "client.key")
        let options = RedisTLSOptions(caFile: live.appendingPathComponent("ca.pem").path, certificateFile: live.appendingPathComponent("client.pem").path,
                                      keyFile: live.appendingPathComponent("client.key").path)
        try await RedisServer.with(.init(tls: certificates, requireClientCertificate: true)) { server in
            let url = try Self.url(server, options)
            func ping() async -> RedisError? {
                do {
                    let connection = try await RedisConnection(url: url)
                    _ = try await connection.command(["PING"])
                    return nil
                } catch {
                    return error
                }
            }
            let client = RedisClient(url: url)
            // The server's certificate is not signed by the CA in place.
            let untrusted = await ping()
            #expect(untrusted?.code == "REDIS_TLS", "\(String(describing: untrusted))")
            // The right CA is rotated in: the server is trusted now, but it refuses our certificate.
            try install(certificates.caCertificate, as: "ca.pem")
            let refused = await ping()
            #expect(refused != nil, "a client certificate of the other CA was accepted")
            // The right client certificate is rotated in: served, by a new connection and by the
            // client that failed before, without anything being restarted.
            try install(certificates.clientCertificate, as: "client.pem")
            #expect(await ping() == nil)
            #expect(try await client.command(["PING"]) == .status("PONG"))
            await client.close()
        }
    }

    @Test("a rotation caught half-written keeps the certificates read before, and the next connection after it is whole reads them")
    func halfWrittenRotation() async throws {
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let ca = certificates.directory.appendingPathComponent("rotating-ca.pem").path
        try FileManager.default.copyItem(atPath: certificates.caCertificate, toPath: ca)
        try await RedisServer.with(.init(tls: certificates)) { server in
            let url = try Self.url(server, RedisTLSOptions(caFile: ca))
            #expect(try await RedisConnection(url: url).command(["PING"]) == .status("PONG"))
            // Truncated mid-copy: not a certificate. The context read before stays in use.
            try "-----BEGIN CERTIFICATE-----\nMIIB".write(toFile: ca, atomically: false, encoding: .utf8)
            #expect(try await RedisConnection(url: url).command(["PING"]) == .status("PONG"))
            // Whole again, with the other CA: read, and the server is no longer trusted.
            try FileManager.default.removeItem(atPath: ca)
            try FileManager.default.copyItem(atPath: certificates.otherCACertificate, toPath: ca)
            await #expect(throws: RedisError.self) { _ = try await RedisConnection(url: url).command(["PING"]) }
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
