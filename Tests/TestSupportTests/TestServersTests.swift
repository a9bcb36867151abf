import Foundation
import Testing
import TestSupport

@Suite("Test servers")
struct TestServersTests {
    @Test("a private redis-server answers, then is gone after stop")
    func redisStartsAndStops() async throws {
        let server = try await RedisServer.start()
        #expect(await server.ping())
        #expect(LoopbackPort.accepts(server.port))
        await server.remove()
        #expect(!LoopbackPort.accepts(server.port))
    }

    @Test("a redis-server with a password refuses commands without it")
    func redisPassword() async throws {
        try await RedisServer.with(.init(password: "s3cret")) { server in
            #expect(await server.ping())
            let redisCLI = try ProjectPaths.tool("redis-cli", package: "redis-tools")
            let anonymous = try await CommandRunner.run(redisCLI, ["-p", String(server.port), "PING"])
            #expect(anonymous.stdout.contains("NOAUTH"))
        }
    }

    @Test("with AOF on, data survives a restart on the same port")
    func redisRestartKeepsAOF() async throws {
        try await RedisServer.with(.init(appendOnly: true)) { server in
            try await server.cli(["SET", "k", "v"])
            try await server.restart()
            #expect(try await server.cli(["GET", "k"]).trimmingCharacters(in: .whitespacesAndNewlines) == "v")
        }
    }

    @Test("a server is stopped when the process it is bound to dies, even by SIGKILL")
    func serverDiesWithParent() async throws {
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sleep")
        parent.arguments = ["60"]
        try parent.run()
        let port = try LoopbackPort.free()
        let directory = try makeTestDirectory("orphan")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ManagedServerProcess(
            name: "redis-server", executable: try ProjectPaths.tool("redis-server", package: "redis-server"),
            arguments: ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--dir", directory.path],
            directory: directory, parentPID: parent.processIdentifier)
        // Deadlines that bound a hang only: a loaded machine can take seconds to start or reap a process.
        var deadline = ContinuousClock.now + .seconds(60)
        while !LoopbackPort.accepts(port) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(LoopbackPort.accepts(port), "redis-server did not start: \(server.logTail())")

        kill(parent.processIdentifier, SIGKILL)
        parent.waitUntilExit()  // reaped: a zombie would still answer kill -0
        deadline = ContinuousClock.now + .seconds(30)
        while server.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!server.isRunning)
        #expect(!LoopbackPort.accepts(port))
        await server.stop()
    }

    @Test("moto_server verifies signatures: the bootstrap key works, a forged one is refused")
    func motoVerifiesSignatures() async throws {
        try await MotoServer.with(buckets: ["raw"]) { moto in
            let python = ProjectPaths.venvBin.appendingPathComponent("python").path
            let script = """
                import sys, boto3
                from botocore.exceptions import ClientError
                def s3(secret):
                    return boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id=sys.argv[2], aws_secret_access_key=secret)
                s3(sys.argv[3]).put_object(Bucket="raw", Key="hello world.txt", Body=b"hello")
                try:
                    s3("wrong" + sys.argv[3]).get_object(Bucket="raw", Key="hello world.txt")
                    print("FORGED-ACCEPTED")
                except ClientError as e:
                    print("refused", e.response["Error"]["Code"])
                """
            let result = try await CommandRunner.run(
                python, ["-c", script, moto.endpoint, moto.credentials.accessKeyID, moto.credentials.secretAccessKey])
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout.contains("refused SignatureDoesNotMatch"), "\(result.stdout)")
        }
    }
}
