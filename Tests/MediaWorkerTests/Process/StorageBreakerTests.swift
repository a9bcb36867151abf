import AsyncHTTPClient
import Foundation
@testable import MediaWorker
@testable import Storage
import TestSupport
import Testing

@Suite("Storage circuit breaker")
struct StorageBreakerTests {
    @Test("opens after repeated transient failures only, closes on the next success, and says so once each way")
    func states() {
        let changes = ChangeLog()
        let breaker = StorageCircuitBreaker(threshold: 3) { state, _ in changes.append(state) }
        let down = StorageError(code: .unavailable, message: "connection refused")
        breaker.record(success: false, error: StorageError(code: .notFound, message: "NoSuchKey"))
        breaker.record(success: false, error: down)
        breaker.record(success: false, error: down)
        #expect(!breaker.isOpen)
        breaker.record(success: true)
        breaker.record(success: false, error: down)
        breaker.record(success: false, error: down)
        #expect(!breaker.isOpen, "a success in between resets the count")
        breaker.record(success: false, error: down)
        #expect(breaker.isOpen)
        breaker.record(success: false, error: down)
        breaker.record(success: true)
        #expect(!breaker.isOpen)
        breaker.trip(down)
        #expect(breaker.isOpen)
        #expect(changes.values == [.open, .closed, .open])
    }

    /// `/readyz` answers 503 for storage alone (Redis is up). 30 s: a loaded machine starts the
    /// worker and its first storage probes slowly.
    static func notReadyForStorage(_ worker: WorkerProcess) async -> Bool {
        await eventually(.seconds(30)) {
            let answer = try worker.get("/readyz")
            return answer.status == 503 && answer.body.contains("\"storage\":false") && answer.body.contains("\"redis\":true")
        }
    }

    @Test("a worker whose S3 endpoint is down reports not ready and takes no job until the endpoint answers; no secret in its logs")
    func daemonWaitsForStorage() async throws {
        let directory = try makeTestDirectory("breaker")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Held bound, not listening: refused, and no other test's server can take the port meanwhile.
        let down = try LoopbackPort.Refusing()
        let port = down.port
        let secret = "worker-secret-never-logged-5e7c"
        let environment = fastWorkerSettings.merging([
            "AWS_ACCESS_KEY_ID": "AKIDBREAKERTEST", "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)",
            "MW_S3_BUCKETS": "media", "MW_LOG_LEVEL": "debug",
        ]) { $1 }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory, environment: environment)
            defer { worker.process.signal(SIGKILL) }
            #expect(await Self.notReadyForStorage(worker), "\(worker.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            try await probe.push(#"{"id":"held","type":"noop"}"#)
            try await Task.sleep(for: .seconds(2))
            #expect(try await probe.queue.record(id: "held")?.state == .waiting)

            // Any HTTP answer proves the endpoint back (a refusal included): a plain HTTP server on the
            // port will do. (moto would not: the worker's probes would use up its unauthenticated calls.)
            down.release()
            let server = try ManagedServerProcess(
                name: "http.server", executable: ProjectPaths.venvBin.appendingPathComponent("python").path,
                arguments: ["-m", "http.server", String(port), "--bind", "127.0.0.1"], environment: [:], directory: directory)
            #expect(await eventually(.seconds(20)) { try worker.get("/readyz").status == 200 }, "\(worker.logText)")
            #expect(await eventually(.seconds(10)) { try await probe.queue.record(id: "held")?.state == .completed })
            await server.stop()
            await probe.queue.client.close()
            #expect(worker.logText.contains("storage unreachable: taking no jobs"))
            #expect(!worker.logText.contains(secret))
            #expect(!worker.logText.contains("Signature="))
        }
    }

    @Test("a worker whose credential source fails (web identity with its token file gone) reports not ready, saying which source and why")
    func credentialFailureIsNotReady() async throws {
        let directory = try makeTestDirectory("credentials-down")
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = fastWorkerSettings.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": directory.appendingPathComponent("no-such-token").path,
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/media-worker", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "MW_S3_BUCKETS": "media",
        ]) { $1 }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory, environment: environment)
            defer { worker.process.signal(SIGKILL) }
            #expect(await Self.notReadyForStorage(worker), "\(worker.logText)")
            #expect(await eventually(.seconds(10)) {
                worker.logText.contains("web identity") && worker.logText.contains("token file") && worker.logText.contains("STORAGE_CREDENTIALS_UNAVAILABLE")
            }, "\(worker.logText)")
        }
    }
}

final class ChangeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [StorageCircuitBreaker.State] = []
    func append(_ value: StorageCircuitBreaker.State) { lock.withLock { stored.append(value) } }
    var values: [StorageCircuitBreaker.State] { lock.withLock { stored } }
}

@Suite("S3 transport errors")
struct S3TransportErrorTests {
    @Test("only endpoint failures are transient; cancellation and refused requests are not, and messages quote no header")
    func classification() {
        #expect(S3Storage.transportError(CancellationError(), bucket: "media").code == .canceled)
        #expect(S3Storage.transportError(HTTPClientError.cancelled, bucket: "media").code == .canceled)
        #expect(S3Storage.transportError(HTTPClientError.connectTimeout, bucket: "media").code == .unavailable)
        #expect(S3Storage.transportError(HTTPClientError.remoteConnectionClosed, bucket: "media").code == .unavailable)
        let refused = S3Storage.transportError(HTTPClientError.invalidHeaderFieldValues(["movie\nsecret-value"]), bucket: "media")
        #expect(refused.code == .requestFailed)
        #expect(!refused.message.contains("secret-value"))
        #expect(!StorageError.Code.canceled.isTransient && !StorageError.Code.requestFailed.isTransient)
    }
}
