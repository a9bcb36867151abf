import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The dashboard under hostile requests, beside a running pool: targeted checks of each defence
/// (`scripts/test/dashboard_security.py`), then every route fuzzed
/// (`scripts/test/dashboard_fuzz.py`: every answer a page or a 4xx, never a 5xx, a crash text or
/// a dead process). `MW_DASHBOARD_FUZZ_SECONDS=600` (`make soak-dashboard`) fuzzes for that long
/// instead of `MW_DASHBOARD_FUZZ_REQUESTS` (default 1,500) requests per dashboard.
@Suite("Dashboard under hostile requests", .serialized)
struct DashboardHostileTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test("bounded numbers, loopback Host only, expiring Secure sessions with logout, CSRF; then every route fuzzed beside a running pool")
    func hostileRequests() async throws {
        let directory = try makeTestDirectory("dashboard-hostile")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try await TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let token = "hostile-token-\(UUID().uuidString)"
        let sessionSeconds = 900
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        let environment = ProcessInfo.processInfo.environment
        try await RedisServer.with { redis in
            // A pool of two workers, with a webhook endpoint that is down (the webhooks page has
            // deliveries to show and redeliver).
            let hooks = ["MW_WEBHOOK_URLS": "http://127.0.0.1:\(try LoopbackPort.free())/hooks", "MW_WEBHOOK_SECRET": Self.secret,
                         "MW_WEBHOOK_RETRY_BASE_S": "5", "MW_CONCURRENCY": "4", "MW_RETRY_BASE_S": "0.05"]
            let workers = try (0..<2).map { try WorkerProcess.start(redisURL: redis.url, id: "hostile-\($0)", directory: directory, environment: hooks) }
            let open = try DashboardProcess.start(redisURL: redis.url, directory: directory)
            let tokenEnvironment = ["MW_DASHBOARD_TOKEN": token, "MW_DASHBOARD_SESSION_S": String(sessionSeconds)]
            let guarded = try DashboardProcess.start(redisURL: redis.url, directory: directory, environment: tokenEnvironment)
            let tls = try DashboardProcess.start(redisURL: redis.url, arguments: ["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverKey],
                                                 directory: directory, environment: tokenEnvironment)
            let dashboards = [open, guarded, tls]
            defer { for process in workers.map(\.process) + dashboards.map(\.process) { process.signal(SIGKILL) } }
            for worker in workers { #expect(await worker.waitUntilReady(), "\(worker.logText)") }
            #expect(await open.waitUntilServing(), "\(open.logText)")
            #expect(await guarded.waitUntilServing(), "\(guarded.logText)")
            #expect(await eventually(.seconds(20)) { tls.logText.contains("dashboard listening") }, "\(tls.logText)")

            // Jobs in every state the pages show: completed, dead, waiting for later.
            let probe = try QueueProbe(redisURL: redis.url)
            for index in 0..<20 { try await probe.push(#"{"id":"seed-\#(index)","type":"noop","metadata":{"movie_id":"m\#(index)"}}"#) }
            for index in 0..<3 { try await probe.push(#"{"id":"dead-\#(index)","type":"noop","max_attempts":1,"options":{"fail_with":{"code":"DRILL"}}}"#) }
            #expect(await eventually(.seconds(30)) { try await probe.queue.counts().dead == 3 })

            let security = try await CommandRunner.run(python, [
                ProjectPaths.scripts.appendingPathComponent("test/dashboard_security.py").path, "--redis", redis.url,
                "--open", open.url, "--token-url", guarded.url, "--token", token, "--tls-url", "https://127.0.0.1:\(tls.port)",
                "--session-s", String(sessionSeconds),
            ], timeout: .seconds(120))
            #expect(security.succeeded, "\(security.stdout)\(security.stderr)\n\(guarded.logText.suffix(2000))")

            // The pool keeps working while the fuzzer runs: a producer pushes jobs (some fail).
            let producing = Task {
                var index = 0
                while !Task.isCancelled && index < 20_000 {
                    let failing = index % 10 == 9 ? #","max_attempts":1,"options":{"fail_with":{"code":"DRILL"}}"# : ""
                    guard (try? await probe.push(#"{"id":"live-\#(index)","type":"noop"\#(failing)}"#)) != nil else { break }
                    index += 1
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return index
            }
            let budget = environment["MW_DASHBOARD_FUZZ_SECONDS"].map { ["--seconds", $0] }
                ?? ["--requests", environment["MW_DASHBOARD_FUZZ_REQUESTS"] ?? "1500"]
            let seconds = Double(environment["MW_DASHBOARD_FUZZ_SECONDS"] ?? "") ?? 0
            let seed = environment["MW_DASHBOARD_FUZZ_SEED"] ?? String(UInt32.random(in: 1...UInt32.max))
            // Both dashboards at once: a soak of N seconds fuzzes each for N seconds.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (dashboard, extra) in [(open, [String]()), (guarded, ["--token", token])] {
                    group.addTask {
                        let report = directory.appendingPathComponent("fuzz-\(dashboard.port).json").path
                        let fuzz = try await CommandRunner.run(python, [
                            ProjectPaths.scripts.appendingPathComponent("test/dashboard_fuzz.py").path, "--url", dashboard.url, "--seed", seed,
                            "--report", report,
                        ] + budget + extra, timeout: .seconds(Int64(max(600, seconds * 2))))
                        #expect(fuzz.succeeded, "\(fuzz.stdout.suffix(6000))\(fuzz.stderr.suffix(2000))\ndashboard: \(dashboard.logText.suffix(2000))")
                        #expect(dashboard.process.isRunning, "the dashboard died: \(dashboard.logText.suffix(3000))")
                        // The summary, for the record (requests, statuses, failures).
                        print("dashboard fuzz \(extra.isEmpty ? "without" : "with") a token:", fuzz.stdout.split(separator: "\n").filter {
                            $0.hasPrefix("requests:") || $0.hasPrefix("by status class") || $0.hasPrefix("failures")
                        }.joined(separator: "; "))
                    }
                }
                try await group.waitForAll()
            }
            producing.cancel()
            let pushed = await producing.value
            // The pool went on working beside it: everything pushed meanwhile has been run (the
            // fuzzer cancels, retries and deletes some: run, whichever way it ended).
            #expect(pushed > 0)
            #expect(await eventually(.seconds(120)) {
                let counts = try await probe.queue.counts()
                return counts.inbox + counts.waiting + counts.scheduled + counts.active == 0 && counts.completed >= 20
            })
            for worker in workers { #expect(worker.process.isRunning, "\(worker.logText.suffix(2000))") }
            await probe.queue.client.close()
        }
    }
}
