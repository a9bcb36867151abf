import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

@Suite("Dashboard, driven in headless Chromium", .serialized)
struct DashboardTests {
    @Test("overview counts, paging, search, retry from a job's page, bulk retry, escaping, read-only, CSRF and the token off loopback")
    func operatorInBrowser() async throws {
        _ = try ProjectPaths.tool("chromium", package: "chromium")
        _ = try ProjectPaths.tool("chromedriver", package: "chromium-driver")
        let directory = try makeTestDirectory("dashboard")
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = "test-token-\(UUID().uuidString)"
        try await RedisServer.with { redis in
            // Webhooks to a port nobody listens on: the webhooks page has failed attempts to show.
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "dash-worker", directory: directory, environment: [
                "MW_CONCURRENCY": "4", "MW_WEBHOOK_URLS": "http://127.0.0.1:\(try LoopbackPort.free())/hooks",
                "MW_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MW_WEBHOOK_RETRY_BASE_S": "60",
            ])
            // `orphan`: a queue no worker serves.
            let main = try DashboardProcess.start(redisURL: redis.url, directory: directory, environment: ["MW_QUEUES": "default,orphan"])
            let readOnly = try DashboardProcess.start(redisURL: redis.url, arguments: ["--read-only"], directory: directory)
            let remote = try DashboardProcess.start(redisURL: redis.url, host: "0.0.0.0", directory: directory,
                                                    environment: ["MW_DASHBOARD_TOKEN": token])
            defer { for process in [worker.process, main.process, readOnly.process, remote.process] { process.signal(SIGKILL) } }
            #expect(await worker.waitUntilReady(), "\(worker.logText)")
            for dashboard in [main, readOnly, remote] {
                #expect(await dashboard.waitUntilServing(), "\(dashboard.logText)")
            }
            let python = ProjectPaths.venvBin.appendingPathComponent("python").path
            var arguments = [
                ProjectPaths.scripts.appendingPathComponent("test/dashboard_browser.py").path, "--redis", redis.url,
                "--main", main.url, "--read-only", readOnly.url, "--remote", "http://127.0.0.1:\(remote.port)", "--token", token,
                "--storage", directory.appendingPathComponent("storage").path, "--fixture", try ProjectPaths.fixture("h264-720p-noaudio.mp4"),
            ]
            if let screenshots = ProcessInfo.processInfo.environment["MW_DASHBOARD_SCREENSHOTS"] { arguments += ["--screenshots", screenshots] }
            let result = try await CommandRunner.run(python, arguments, timeout: .seconds(300))
            #expect(result.succeeded, "\(result.stdout)\(result.stderr)\nworker: \(worker.logText.suffix(3000))\ndashboard: \(main.logText.suffix(2000))")
        }
    }

    @Test("off loopback without MW_DASHBOARD_TOKEN the dashboard refuses to start")
    func tokenRequiredOffLoopback() async throws {
        let directory = try makeTestDirectory("dashboard-token")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dashboard = try DashboardProcess.start(redisURL: "redis://127.0.0.1:1/0", host: "0.0.0.0", directory: directory)
        let status = await dashboard.process.wait(timeout: .seconds(20))
        #expect(status == 2)
        #expect(dashboard.logText.contains("MW_DASHBOARD_TOKEN: required when the dashboard listens off loopback"))
    }
}
