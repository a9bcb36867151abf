import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// A `media-worker run` process started by a test, with its own HTTP port and log.
struct WorkerProcess {
    let id: String
    let process: ChildProcess
    let log: String

    /// The HTTP port the worker bound (it asks the system for one: a port picked free here could
    /// be taken by another process before the worker binds it); 0 until its start-up line is written.
    var port: Int {
        for line in logText.split(whereSeparator: \.isNewline) where line.contains(#""msg":"http listening""#) {
            guard let range = line.range(of: #""addr":"127.0.0.1:"#) else { continue }
            return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return 0
    }

    static func start(redisURL: String, id: String = "w-\(UUID().uuidString.prefix(6))", directory: URL, environment: [String: String] = [:]) throws -> WorkerProcess {
        let log = directory.appendingPathComponent("\(id).log").path
        var variables = [
            "MW_REDIS_URL": redisURL, "MW_HTTP_ADDR": "127.0.0.1:0", "MW_WORKER_ID": id,
            "MW_STORAGE_ROOT": directory.appendingPathComponent("storage").path,
            "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path,
        ]
        variables.merge(environment) { _, new in new }
        let process = try ChildProcess.spawn(try ProjectPaths.executable("media-worker"), ["run"], environment: variables, stdout: log)
        return WorkerProcess(id: id, process: process, log: log)
    }

    func get(_ path: String) throws -> HTTPProbe.Response {
        let bound = port
        guard bound > 0 else { throw TestFailure("worker \(id) has not said its HTTP port yet") }
        return try HTTPProbe.get(port: bound, path: path)
    }

    /// Waits until the worker reports ready.
    func waitUntilReady(timeout: Duration = .seconds(60)) async -> Bool {
        await eventually(timeout) { try get("/readyz").status == 200 }
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}

/// Polls until `condition` holds or `timeout` passes. The default bounds a hang, not a speed: it
/// returns as soon as the condition holds, and a loaded CI machine can stall a step for 20 s.
func eventually(_ timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: interval)
    }
    return (try? await condition()) == true
}

/// Reading a queue's state and events from a test, through the project's own client.
struct QueueProbe {
    let queue: JobQueue

    init(redisURL: String, queue name: String = "default") throws {
        queue = JobQueue(name: name, client: RedisClient(url: try RedisURL(parsing: redisURL)), actor: "test")
    }

    /// What a producer in any language does: one RPUSH of the job's JSON.
    func push(_ json: String) async throws {
        try await queue.client.command(["RPUSH", queue.inboxKey, json])
    }

    /// Pushes raw bytes (not necessarily UTF-8) as a producer could.
    func push(bytes: [UInt8]) async throws {
        let connection = try await RedisConnection(url: queue.client.url)
        try await connection.command(bytes: [Array("RPUSH".utf8), Array(queue.inboxKey.utf8), bytes])
        await connection.close()
    }

    /// Redis's clock in milliseconds (`TIME`): the clock the records' times are on.
    func redisMilliseconds() async throws -> Int64 {
        let time = (try await queue.client.command(["TIME"]).array ?? []).compactMap(\.string)
        guard time.count == 2, let seconds = Int64(time[0]), let micros = Int64(time[1]) else { throw TestFailure("TIME replied \(time)") }
        return seconds * 1000 + micros / 1000
    }

    func events() async throws -> [[String: Any]] {
        let reply = try await queue.client.command(["XRANGE", queue.eventsKey, "-", "+"])
        return (reply.array ?? []).compactMap { entry in
            let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
            guard let index = fields.firstIndex(of: "event"), index + 1 < fields.count else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(fields[index + 1].utf8)) as? [String: Any]
        }
    }

    /// Terminal events (…Completed, …Failed, …Canceled) by job id; a split job's per-part
    /// `TranscodeChunk…` events are not its terminal ones.
    func terminalEvents() async throws -> [String: [String]] {
        var byJob: [String: [String]] = [:]
        for event in try await events() {
            guard let type = event["type"] as? String, let id = event["job_id"] as? String, !type.hasPrefix("TranscodeChunk") else { continue }
            if type.hasSuffix("Completed") || type.hasSuffix("Failed") || type.hasSuffix("Canceled") {
                byJob[id, default: []].append(type)
            }
        }
        return byJob
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// Short leases and retries so that recovery happens within a test's time.
let fastWorkerSettings = ["MW_LEASE_S": "1", "MW_RETRY_BASE_S": "0.05", "MW_RETRY_CAP_S": "0.2", "MW_GRACE_S": "1"]

/// `count` worker processes (ids w0, w1, …) on a private redis-server, over a fresh test folder
/// (`storage/raw` made, then `prepare` run on it before any worker starts), each ready before
/// `body` runs; killed at the end, the folder removed.
func withWorkers(
    count: Int, folder: String = "workers", redis options: RedisServer.Options = .init(), environment: [String: String] = fastWorkerSettings,
    prepare: (URL) throws -> Void = { _ in },
    _ body: (RedisServer, [WorkerProcess], QueueProbe, URL) async throws -> Void
) async throws {
    let directory = try makeTestDirectory(folder)
    defer { try? FileManager.default.removeItem(at: directory) }
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("storage/raw"), withIntermediateDirectories: true)
    try prepare(directory)
    try await RedisServer.with(options) { redis in
        var workers: [WorkerProcess] = []
        defer { for worker in workers { worker.process.signal(SIGKILL) } }
        for index in 0..<count {
            workers.append(try WorkerProcess.start(redisURL: redis.url, id: "w\(index)", directory: directory, environment: environment))
        }
        for worker in workers {
            let ready = await worker.waitUntilReady()
            #expect(ready, "worker \(worker.id) not ready: \(worker.logText)")
        }
        let probe = try QueueProbe(redisURL: redis.url)
        try await body(redis, workers, probe, directory)
        await probe.queue.client.close()
    }
}

/// One worker process: `withWorkers` with a count of one.
func withWorker(
    folder: String, environment: [String: String] = fastWorkerSettings, prepare: (URL) throws -> Void = { _ in },
    _ body: (WorkerProcess, QueueProbe, URL) async throws -> Void
) async throws {
    try await withWorkers(count: 1, folder: folder, environment: environment, prepare: prepare) { _, workers, probe, directory in
        try await body(workers[0], probe, directory)
    }
}
