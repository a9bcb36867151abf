import Foundation
import TestSupport
import Testing

/// `media-worker run` as a process, against a private redis-server.
@Suite("media-worker run")
struct DaemonTests {
    @Test("serves health, readiness and metrics; follows Redis going away and back; stops on SIGTERM")
    func lifecycle() async throws {
        let directory = try makeTestDirectory("daemon")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "test-worker", directory: directory)
            defer { worker.process.signal(SIGKILL) }

            #expect(await eventually { try worker.get("/healthz").status == 200 }, "\(worker.logText)")
            // Transparent huge pages off by default (MW_TRANSPARENT_HUGE_PAGES): the kernel's own word on the process.
            let procStatus = try String(contentsOfFile: "/proc/\(worker.process.pid)/status", encoding: .utf8)
            #expect(procStatus.split(separator: "\n").contains { $0.hasPrefix("THP_enabled:") && $0.hasSuffix("0") }, "\(procStatus)")
            #expect(await eventually { try worker.get("/readyz").status == 200 })
            #expect(try worker.get("/readyz").body.contains("\"ready\":true"))
            #expect(await eventually { try worker.get("/metrics").body.contains("mw_redis_up 1") })

            await redis.stop()
            #expect(await eventually { try worker.get("/readyz").status == 503 })
            #expect(try worker.get("/healthz").status == 200)
            #expect(await eventually { try worker.get("/metrics").body.contains("mw_redis_up 0") })

            try await redis.restart()
            #expect(await eventually { try worker.get("/readyz").status == 200 })
            #expect(await eventually {
                let line = try worker.get("/metrics").body.split(separator: "\n").first { $0.hasPrefix("mw_redis_reconnects_total ") }
                return (line?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1
            })

            worker.process.signal(SIGTERM)
            let status = await worker.process.wait(timeout: .seconds(15))
            #expect(status == 0, "\(worker.logText)")

            let lines = worker.logText.split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] != nil && object?["msg"] != nil, "not a JSON log line: \(line)")
            }
            #expect(worker.logText.contains("\"msg\":\"redis unreachable\""))
            #expect(worker.logText.contains("\"msg\":\"worker stopped\""))
        }
    }

    @Test("not ready while its temp folder has less free space than MW_MIN_FREE_BYTES")
    func lowDisk() async throws {
        let directory = try makeTestDirectory("daemon")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory, environment: ["MW_MIN_FREE_BYTES": "999999999999999999"])
            defer { worker.process.signal(SIGKILL) }
            #expect(await eventually {
                let answer = try worker.get("/readyz")
                return answer.status == 503 && answer.body.contains("\"disk\":false") && answer.body.contains("WORKER_DISK_FULL")
            }, "\(worker.logText)")
            #expect(try worker.get("/readyz").body.contains("\"redis\":true"))
        }
    }

    @Test("SIGINT stops it as cleanly as SIGTERM")
    func sigint() async throws {
        let directory = try makeTestDirectory("daemon")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "test-worker", directory: directory)
            defer { worker.process.signal(SIGKILL) }
            #expect(await eventually { try worker.get("/readyz").status == 200 }, "\(worker.logText)")
            worker.process.signal(SIGINT)
            #expect(await worker.process.wait(timeout: .seconds(15)) == 0)
        }
    }

    @Test("a bad setting stops it at once with the variable named")
    func badConfiguration() async throws {
        let result = try await CommandRunner.run(
            try ProjectPaths.executable("media-worker"), ["run"], environment: ["MW_REDIS_URL": "http://localhost"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error CONFIG_INVALID: MW_REDIS_URL: "), "\(result.stderr)")
    }

    @Test("--version prints the version")
    func version() async throws {
        let result = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["--version"])
        #expect(result.succeeded)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }
}
