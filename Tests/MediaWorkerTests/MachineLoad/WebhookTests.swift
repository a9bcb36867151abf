import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// `scripts/test/webhook_receiver.py`: an endpoint that checks signatures with the Standard
/// Webhooks reference library and records every delivery.
struct WebhookReceiver {
    let process: ChildProcess
    let port: Int
    let records: String

    struct Delivery: Decodable {
        var webhook_id: String
        var type: String?
        var job_id: String?
        var event_id: String?
        var attempt: Int
        var verified: Bool
        var error: String
        var status: Int
        var at: Double
    }

    static func start(directory: URL, secret: String, port: Int = 0, arguments: [String] = []) async throws -> WebhookReceiver {
        let records = directory.appendingPathComponent("deliveries-\(UUID().uuidString.prefix(6)).jsonl").path
        let stdout = records + ".out"
        let process = try ChildProcess.spawn(
            ProjectPaths.venvBin.appendingPathComponent("python").path,
            [ProjectPaths.scripts.appendingPathComponent("test/webhook_receiver.py").path, records, "--secret", secret, "--port", String(port)] + arguments,
            stdout: stdout, stderr: stdout)
        var port = 0
        _ = await eventually(.seconds(20)) {
            let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }) else { return false }
            port = Int(line.dropFirst(10)) ?? 0
            return port > 0
        }
        guard port > 0 else {
            process.signal(SIGKILL)
            throw TestFailure("webhook receiver did not start (install PyPI standardwebhooks with scripts/install-deps.sh): \((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "")")
        }
        return WebhookReceiver(process: process, port: port, records: records)
    }

    var url: String { Self.url(port: port) }
    static func url(port: Int) -> String { "http://127.0.0.1:\(port)/hooks/media" }

    func deliveries() -> [Delivery] {
        let text = (try? String(contentsOfFile: records, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Delivery.self, from: Data($0.utf8)) }
    }

    /// Requests that reached the receiver, answered or not (noted before `--slow` holds them).
    func arrivals() -> Int {
        let text = (try? String(contentsOfFile: records + ".arrivals", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").count
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Webhooks: signed, retried, at least once", .serialized)
struct WebhookTests {
    // Two secrets while the first is rotated out; the receiver knows only the new one.
    static let oldSecret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let newSecret = "whsec_" + Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()

    func environment(_ receiver: WebhookReceiver, _ more: [String: String] = [:]) -> [String: String] {
        ["MW_WEBHOOK_URLS": receiver.url, "MW_WEBHOOK_SECRET": "\(Self.oldSecret) \(Self.newSecret)",
         "MW_WEBHOOK_RETRY_BASE_S": "0.2", "MW_RETRY_BASE_S": "0.05"].merging(more) { $1 }
    }

    @Test("terminal events are POSTed signed; the first two deliveries fail (500, then 503 with Retry-After) and the third is seen")
    func retriedUntilDelivered() async throws {
        let directory = try makeTestDirectory("webhooks")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, arguments: ["--fail-first", "2", "--retry-after", "1"])
        defer { receiver.process.signal(SIGKILL) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "hook-w", directory: directory, environment: environment(receiver))
            defer { worker.process.signal(SIGKILL) }
            #expect(await worker.waitUntilReady(), "\(worker.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            for index in 0..<3 { try await probe.push(#"{"id":"h\#(index)","type":"noop","metadata":{"order":"\#(index)"}}"#) }
            try await probe.push(#"{"id":"h-dead","type":"noop","max_attempts":1,"options":{"fail_with":{"code":"DRILL"}}}"#)
            let delivered = await eventually(.seconds(30)) { receiver.deliveries().filter { $0.status == 200 }.count >= 4 }
            #expect(delivered, "deliveries: \(receiver.deliveries().map { "\($0.job_id ?? "") \($0.attempt) \($0.status)" })\n\(worker.logText.suffix(3000))")
            let all = receiver.deliveries()
            let unverified = all.filter { !$0.verified }.map(\.error)
            #expect(unverified.isEmpty, "\(unverified)")
            // Only the terminal events, each seen three times, the third answered 200.
            let byEvent = Dictionary(grouping: all, by: \.webhook_id)
            #expect(Set(all.compactMap(\.type)) == ["NoopCompleted", "NoopFailed"])
            #expect(byEvent.count == 4)
            for (_, attempts) in byEvent {
                #expect(attempts.map(\.status) == [500, 503, 200])
                #expect(attempts.allSatisfy { $0.webhook_id == $0.event_id })
                // Retry-After: 1 is honoured over the 0.2 s backoff.
                if attempts.count == 3 { #expect(attempts[2].at - attempts[1].at >= 0.95) }
            }
            // The delivery log the dashboard shows: two retries and one delivery per event.
            // The worker records an outcome after the receiver answers: wait for the ledger to catch up.
            let ledger = WebhookLedger(queue: probe.queue, url: receiver.url)
            let settled = await eventually(.seconds(15)) {
                let summary = try await ledger.summary()
                return summary.outcomes["delivered"] == 4 && summary.inFlight == 0
            }
            let summary = try await ledger.summary()
            #expect(settled && summary.outcomes["delivered"] == 4 && summary.outcomes["retry"] == 8 && summary.retrying == 0, "\(summary)")
            let log = try await ledger.log(count: 100)
            #expect(log.filter { $0.fields["outcome"] == "delivered" }.count == 4)
            #expect(log.allSatisfy { Int($0.fields["latency_ms"] ?? "") != nil })

            // Redeliver from the log: the receiver sees the event a fourth time, under a webhook-id
            // of its own (a receiver that deduplicates would drop the same id), still verified.
            let first = try #require(log.first { $0.fields["outcome"] == "delivered" })
            let eventID = try #require(first.fields["event_id"])
            #expect(try await ledger.redeliver(streamID: first.fields["stream_id"] ?? "", logID: first.logID) == 1)
            // (The receiver fails the first two attempts of every webhook-id it has not seen.)
            let redelivered = await eventually(.seconds(20)) {
                receiver.deliveries().contains { $0.event_id == eventID && $0.webhook_id == eventID + ".redelivery-1" && $0.status == 200 }
            }
            #expect(redelivered, "\(receiver.deliveries().filter { $0.event_id == eventID }.map { "\($0.webhook_id) \($0.status)" })")
            #expect(receiver.deliveries().allSatisfy { $0.verified })
            await probe.queue.client.close()
        }
    }

    @Test("the delivering worker is killed with deliveries in flight: another worker delivers every event")
    func restartLosesNothing() async throws {
        let directory = try makeTestDirectory("webhooks-kill")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Answers are held 8 s: the first worker dies with a delivery in flight.
        let receiver = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, arguments: ["--slow", "8"])
        defer { receiver.process.signal(SIGKILL) }
        try await RedisServer.with { redis in
            let settings = environment(receiver, ["MW_WEBHOOK_TAKEOVER_S": "2", "MW_WEBHOOK_TIMEOUT_S": "12"])
            let first = try WorkerProcess.start(redisURL: redis.url, id: "hook-a", directory: directory, environment: settings)
            defer { first.process.signal(SIGKILL) }
            #expect(await first.waitUntilReady(), "\(first.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            for index in 0..<5 { try await probe.push(#"{"id":"k\#(index)","type":"noop"}"#) }
            #expect(await eventually(.seconds(20)) { try await probe.queue.counts().completed == 5 })
            // Killed as soon as a request has reached the receiver and none has been answered yet.
            #expect(await eventually(.seconds(20), every: .milliseconds(20)) { receiver.arrivals() >= 1 && receiver.deliveries().isEmpty })
            first.process.signal(SIGKILL)
            _ = await first.process.wait(timeout: .seconds(10))
            let ledger = WebhookLedger(queue: probe.queue, url: receiver.url)
            let atKill = try await ledger.summary()
            #expect(atKill.inFlight >= 1 && (atKill.outcomes["delivered"] ?? 0) < 5, "nothing was in flight at the kill: the test proves nothing (\(atKill))")

            let second = try WorkerProcess.start(redisURL: redis.url, id: "hook-b", directory: directory, environment: settings)
            defer { second.process.signal(SIGKILL) }
            #expect(await second.waitUntilReady(), "\(second.logText)")
            let terminal = Set(try await probe.events().filter { ($0["type"] as? String) == "NoopCompleted" }.compactMap { $0["event_id"] as? String })
            #expect(terminal.count == 5)
            // The dead worker's leases end after MW_WEBHOOK_TIMEOUT_S + 5 s.
            let all = await eventually(.seconds(90)) { try await ledger.summary().outcomes["delivered"] == 5 }
            let summary = try await ledger.summary()
            #expect(all, "\(summary)\n\(second.logText.suffix(3000))")
            #expect(Set(receiver.deliveries().map(\.webhook_id)) == terminal)
            #expect(try await ledger.summary().inFlight == 0)
            await probe.queue.client.close()
        }
    }

    @Test("410 Gone disables the endpoint: its events wait, and flow again once it is enabled")
    func goneDisables() async throws {
        let directory = try makeTestDirectory("webhooks-gone")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, arguments: ["--gone"])
        defer { receiver.process.signal(SIGKILL) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "hook-g", directory: directory, environment: environment(receiver))
            defer { worker.process.signal(SIGKILL) }
            #expect(await worker.waitUntilReady(), "\(worker.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            try await probe.push(#"{"id":"g1","type":"noop"}"#)
            let ledger = WebhookLedger(queue: probe.queue, url: receiver.url)
            #expect(await eventually(.seconds(20)) { try await ledger.isDisabled() != nil })
            try await probe.push(#"{"id":"g2","type":"noop"}"#)
            #expect(await eventually(.seconds(10)) { try await probe.queue.counts().completed == 2 })
            try await Task.sleep(for: .seconds(2))
            #expect(receiver.deliveries().count == 1, "a disabled endpoint was called again")
            #expect(worker.logText.contains("410 Gone"))
            try await ledger.enable()
            #expect(await eventually(.seconds(20)) { Set(receiver.deliveries().compactMap(\.job_id)) == ["g1", "g2"] })
            await probe.queue.client.close()
        }
    }

    @Test("an endpoint down and one disabled while the event stream rolls over many times: every terminal event arrives once each is back")
    func rolloverLosesNothing() async throws {
        let directory = try makeTestDirectory("webhooks-rollover")
        defer { try? FileManager.default.removeItem(at: directory) }
        let downPort = try LoopbackPort.free(), gonePort = try LoopbackPort.free()
        // The second endpoint answers 410 to the first delivery: disabled from then on.
        let gone = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, port: gonePort, arguments: ["--gone"])
        defer { gone.process.signal(SIGKILL) }
        let maxLength = 100, jobs = 300
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, id: "hook-r", directory: directory, environment: [
                "MW_WEBHOOK_URLS": "\(WebhookReceiver.url(port: downPort)),\(WebhookReceiver.url(port: gonePort))",
                "MW_WEBHOOK_SECRET": Self.newSecret, "MW_WEBHOOK_RETRY_BASE_S": "0.2", "MW_WEBHOOK_RETRY_CAP_S": "1",
                "MW_EVENTS_MAXLEN": String(maxLength), "MW_CONCURRENCY": "8",
            ])
            defer { worker.process.signal(SIGKILL) }
            #expect(await worker.waitUntilReady(), "\(worker.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            let disabledLedger = WebhookLedger(queue: probe.queue, url: WebhookReceiver.url(port: gonePort))
            try await probe.push(#"{"id":"r-first","type":"noop"}"#)
            #expect(await eventually(.seconds(30)) { try await disabledLedger.isDisabled() != nil })
            // In rounds of 30 jobs (about 120 events, more than the stream keeps), each once the
            // readers have read the last: the promise holds for what the readers read, and the
            // stream rolls over many times while both endpoints are unreachable.
            let downLedger = WebhookLedger(queue: probe.queue, url: WebhookReceiver.url(port: downPort))
            for round in 0..<(jobs / 30) {
                for index in (round * 30)..<(round * 30 + 30) { try await probe.push(#"{"id":"r\#(index)","type":"noop"}"#) }
                #expect(await eventually(.seconds(60)) {
                    guard try await probe.queue.counts().completed == round * 30 + 31 else { return false }
                    let down = try await downLedger.checkLag().lag, disabled = try await disabledLedger.checkLag().lag
                    return down == 0 && disabled == 0
                })
            }
            // The stream rolled over: far more was appended than it holds, the first job's events are gone.
            let info = try await probe.queue.client.command(["XINFO", "STREAM", probe.queue.eventsKey]).array ?? []
            let fields = Dictionary(uniqueKeysWithValues: stride(from: 0, to: info.count - 1, by: 2).compactMap { index in
                info[index].string.map { ($0, info[index + 1]) }
            })
            let added = Int(fields["entries-added"]?.integer ?? 0), length = Int(fields["length"]?.integer ?? 0)
            #expect(added >= 5 * maxLength && length < added / 3, "added \(added), length \(length)")
            #expect(try await probe.events().allSatisfy { ($0["job_id"] as? String) != "r-first" })

            let expected = Set(["r-first"] + (0..<jobs).map { "r\($0)" })
            // The first endpoint comes up: every terminal event arrives.
            let back = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, port: downPort)
            defer { back.process.signal(SIGKILL) }
            let arrived = await eventually(.seconds(120)) { Set(back.deliveries().filter { $0.status == 200 }.compactMap(\.job_id)) == expected }
            let got = Set(back.deliveries().compactMap(\.job_id))
            let downSummary = try await downLedger.summary()
            #expect(arrived, "missing \(expected.subtracting(got).sorted().prefix(20)) of \(expected.count); \(downSummary)\n\(worker.logText.suffix(2000))")
            #expect(back.deliveries().allSatisfy { $0.verified && $0.type == "NoopCompleted" })

            // The disabled one is enabled (and now answers): it gets them all too.
            gone.process.signal(SIGKILL)
            _ = await gone.process.wait(timeout: .seconds(10))
            let enabled = try await WebhookReceiver.start(directory: directory, secret: Self.newSecret, port: gonePort)
            defer { enabled.process.signal(SIGKILL) }
            #expect(gone.deliveries().count == 1, "a disabled endpoint was called again: \(gone.deliveries().count)")
            try await disabledLedger.enable()
            let all = await eventually(.seconds(120)) { Set(enabled.deliveries().filter { $0.status == 200 }.compactMap(\.job_id)) == expected }
            #expect(all, "missing \(expected.subtracting(Set(enabled.deliveries().compactMap(\.job_id))).sorted().prefix(20))")
            let summary = try await WebhookLedger(queue: probe.queue, url: back.url).summary()
            #expect(summary.outcomes["gave_up"] == nil && summary.outcomes["lost"] == nil, "\(summary)")
            let disabledSummary = try await disabledLedger.summary()
            #expect(disabledSummary.outcomes["lost"] == nil, "\(disabledSummary)")
            await probe.queue.client.close()
        }
    }
}
