import Foundation
import RedisClient
import TestSupport
import Testing

@Suite("RedisConnection against a real redis-server")
struct RedisConnectionTests {
    @Test("commands, binary values, integers, arrays, nil and error replies")
    func replies() async throws {
        try await RedisServer.with { server in
            let connection = try await RedisConnection(url: RedisURL(parsing: server.url))
            #expect(try await connection.command(["PING"]) == .status("PONG"))
            let binary: [UInt8] = [0, 0xff, 0xfe, 10, 13, 0x80]
            try await connection.command(bytes: [Array("SET".utf8), Array("bin".utf8), binary])
            #expect(try await connection.command(["GET", "bin"]) == .bulk(binary))
            #expect(try await connection.command(["INCRBY", "n", "41"]) == .integer(41))
            #expect(try await connection.command(["GET", "missing"]) == .null)
            try await connection.command(["RPUSH", "list", "a", "b"])
            #expect(try await connection.command(["LRANGE", "list", "0", "-1"]) == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
            await #expect(throws: RedisError.self) { try await connection.command(["NOSUCHCOMMAND"]) }
            // The connection stays usable after an error reply.
            #expect(try await connection.command(["PING"]) == .status("PONG"))
        }
    }

    @Test("a pipeline returns replies in order, error replies in place")
    func pipeline() async throws {
        try await RedisServer.with { server in
            let connection = try await RedisConnection(url: RedisURL(parsing: server.url))
            let replies = try await connection.pipeline([["SET", "a", "1"], ["INCR", "a"], ["LPUSH", "a", "x"], ["GET", "a"]])
            #expect(replies.count == 4)
            #expect(replies[1] == .integer(2))
            if case .error(let message) = replies[2] { #expect(message.hasPrefix("WRONGTYPE")) } else { Issue.record("expected an error reply") }
            #expect(replies[3].string == "2")
        }
    }

    @Test("AUTH with a password, and a wrong one refused")
    func authentication() async throws {
        try await RedisServer.with(.init(password: "s3cret")) { server in
            let connection = try await RedisConnection(url: RedisURL(parsing: "redis://:s3cret@127.0.0.1:\(server.port)/0"))
            #expect(try await connection.command(["PING"]) == .status("PONG"))
            await #expect(throws: RedisError.self) {
                _ = try await RedisConnection(url: RedisURL(parsing: "redis://:wrong@127.0.0.1:\(server.port)/0"))
            }
        }
    }

    @Test("ACL user and password")
    func aclUser() async throws {
        try await RedisServer.with { server in
            try await server.cli(["ACL", "SETUSER", "worker", "on", ">pw", "~*", "+@all"])
            let connection = try await RedisConnection(url: RedisURL(parsing: "redis://worker:pw@127.0.0.1:\(server.port)"))
            #expect(try await connection.command(["ACL", "WHOAMI"]).string == "worker")
        }
    }

    @Test("database index and unix socket")
    func databaseAndUnixSocket() async throws {
        try await RedisServer.with(.init(unixSocket: true)) { server in
            let connection = try await RedisConnection(url: RedisURL(parsing: "unix://\(server.unixSocketPath)?db=5"))
            try await connection.command(["SET", "where", "db5"])
            #expect(try await server.cli(["-n", "5", "GET", "where"]).trimmingCharacters(in: .whitespacesAndNewlines) == "db5")
            #expect(try await server.cli(["GET", "where"]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        }
    }

    @Test("connection refused is a connection error")
    func refused() async throws {
        let port = try LoopbackPort.free()
        await #expect {
            _ = try await RedisConnection(url: RedisURL(parsing: "redis://127.0.0.1:\(port)"))
        } throws: { error in
            (error as? RedisError)?.isConnectionError == true
        }
    }

    @Test("a broken connection reports it and reconnects once the server is back")
    func reconnect() async throws {
        try await RedisServer.with { server in
            let connection = try await RedisConnection(url: RedisURL(parsing: server.url))
            try await connection.command(["SET", "k", "v"])
            try await server.restart()
            await #expect {
                try await connection.command(["GET", "k"])
            } throws: { error in
                (error as? RedisError)?.isConnectionError == true
            }
            #expect(await connection.isConnected == false)
            try await connection.reconnect()
            #expect(try await connection.command(["PING"]) == .status("PONG"))
        }
    }

    @Test("a blocking pop waits on its own thread and wakes when work arrives")
    func blockingPop() async throws {
        try await RedisServer.with { server in
            let url = try RedisURL(parsing: server.url)
            let waiter = try await RedisConnection(url: url)
            let producer = try await RedisConnection(url: url)
            async let popped = waiter.blockingCommand(["BLPOP", "jobs", "5"], wait: .seconds(5))
            try await Task.sleep(for: .milliseconds(200))
            // The other connection is not held up by the blocked one.
            try await producer.command(["RPUSH", "jobs", "j1"])
            let reply = try await popped
            #expect(reply == .array([.bulk(Array("jobs".utf8)), .bulk(Array("j1".utf8))]))
        }
    }

    @Test("one server demoted under its name (READONLY): the call fails as a connection error and the next one reconnects")
    func readOnlyRecyclesConnection() async throws {
        try await RedisServer.with { server in
            try await RedisServer.with { other in
                let client = RedisClient(url: try RedisURL(parsing: server.url))
                try await client.command(["SET", "k", "1"])
                let first = try await client.command(["CLIENT", "ID"]).integer
                // A managed failover: the name now answers as a replica.
                _ = try await server.cli(["REPLICAOF", "127.0.0.1", String(other.port)])
                do {
                    try await client.command(["SET", "k", "2"])
                    Issue.record("a write to a replica was accepted")
                } catch {
                    #expect((error as? RedisError)?.isConnectionError == true, "\(error): callers must retry this, not give up")
                }
                // The master is back under the name: the same client carries on, on a new connection.
                _ = try await server.cli(["REPLICAOF", "NO", "ONE"])
                try await client.command(["SET", "k", "3"])
                let second = try await client.command(["CLIENT", "ID"]).integer
                #expect(first != nil && second != nil && first != second, "the connection that met READONLY was kept")
                await client.close()
            }
        }
    }
}
