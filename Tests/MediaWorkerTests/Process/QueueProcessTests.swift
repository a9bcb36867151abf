import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The queue's promises, checked with real worker processes and a real redis-server.
@Suite("Queue with worker processes", .serialized)
struct QueueProcessTests {
    @Test("a worker killed with SIGKILL mid-job loses nothing: the job completes once, elsewhere")
    func sigkillMidJob() async throws {
        try await withWorkers(count: 2) { _, workers, probe, _ in
            // 8 s: the kill must land while the job runs. With 2.5 s, a loaded machine (CI beside a
            // CPU burner) once saw the job active, then took so long to send the kill that the owner
            // had already finished it: completed by w0, never stalled.
            try await probe.push(#"{"id":"long","type":"noop","options":{"duration_ms":8000}}"#)
            #expect(await eventually { try await probe.queue.record(id: "long")?.state == .active })
            let owner = try #require(try await probe.queue.record(id: "long")?.fields["worker"])
            let victim = try #require(workers.first { $0.id == owner })
            victim.process.signal(SIGKILL)
            #expect(await eventually(.seconds(45)) { try await probe.queue.record(id: "long")?.state == .completed })
            let record = try #require(try await probe.queue.record(id: "long"))
            #expect(record.fields["worker"] != owner)
            #expect(try await probe.terminalEvents()["long"] == ["NoopCompleted"])
            #expect(try await probe.events().contains { $0["type"] as? String == "JobStalled" })
        }
    }

    @Test("a redis-server restart (AOF) mid-run loses nothing and doubles nothing")
    func redisRestartMidRun() async throws {
        try await withWorkers(count: 2, redis: .init(appendOnly: true), environment: fastWorkerSettings.merging(["MW_CONCURRENCY": "4", "MW_LEASE_S": "5"]) { $1 }) { redis, _, probe, _ in
            let total = 300
            for index in 0..<total {
                try await probe.push(#"{"id":"r\#(index)","type":"noop","options":{"duration_ms":20}}"#)
            }
            #expect(await eventually(.seconds(30)) { try await probe.queue.counts().completed >= total / 3 })
            try await redis.restart()
            #expect(await eventually(.seconds(60)) { try await probe.queue.counts().completed == total })
            let terminal = try await probe.terminalEvents()
            #expect(terminal.count == total)
            #expect(terminal.values.allSatisfy { $0 == ["NoopCompleted"] })
            let counts = try await probe.queue.counts()
            #expect(counts.waiting == 0 && counts.active == 0 && counts.inbox == 0 && counts.scheduled == 0)
        }
    }

    @Test("4 workers × concurrency 8 on 1,000 jobs: exactly one terminal event per job")
    func manyWorkersManyJobs() async throws {
        try await withWorkers(count: 4, environment: fastWorkerSettings.merging(["MW_CONCURRENCY": "8"]) { $1 }) { _, _, probe, _ in
            for index in 0..<1000 {
                let json: String
                switch index % 20 {
                case 0: json = #"{"id":"m\#(index)","type":"noop","max_attempts":2,"options":{"fail_with":{"code":"DRILL_RETRY","retryable":true}}}"#
                case 1: json = #"{"id":"m\#(index)","type":"noop","options":{"fail_with":{"code":"DRILL_PERMANENT","retryable":false}}}"#
                case 2: json = #"{"id":"m\#(index)","type":"noop","priority":"high","options":{"duration_ms":30}}"#
                default: json = #"{"id":"m\#(index)","type":"noop"}"#
                }
                try await probe.push(json)
            }
            #expect(await eventually(.seconds(60)) {
                let counts = try await probe.queue.counts()
                return counts.completed + counts.dead == 1000
            })
            let counts = try await probe.queue.counts()
            #expect(counts.completed == 900 && counts.dead == 100)
            #expect(counts.waiting == 0 && counts.active == 0 && counts.scheduled == 0 && counts.inbox == 0)
            let terminal = try await probe.terminalEvents()
            #expect(terminal.count == 1000)
            #expect(terminal.values.allSatisfy { $0.count == 1 })
            let retried = try #require(try await probe.queue.record(id: "m0"))
            #expect(retried.state == .dead && retried.attempts == 2 && retried.errorCode == "DRILL_RETRY")
            let permanent = try #require(try await probe.queue.record(id: "m1"))
            #expect(permanent.state == .dead && permanent.attempts == 1)
        }
    }

    @Test("an idle worker issues about one and a half Redis commands a second and wakes at once for new work")
    func idleWorker() async throws {
        try await withWorkers(count: 1, environment: [:]) { redis, _, probe, directory in
            try await Task.sleep(for: .seconds(2))
            let monitorLog = directory.appendingPathComponent("monitor.log").path
            let monitor = try ChildProcess.spawn(
                try ProjectPaths.tool("redis-cli", package: "redis-tools"), ["-p", String(redis.port), "MONITOR"], stdout: monitorLog)
            try await Task.sleep(for: .seconds(10))
            monitor.signal(SIGTERM)
            await monitor.wait(timeout: .seconds(5))
            // Commands a client sent; a script's own calls show as [0 lua].
            let commands = try String(contentsOfFile: monitorLog, encoding: .utf8).split(separator: "\n")
                .filter { $0.contains("\"") && !$0.contains(" lua]") }
            let listing = commands.prefix(40).joined(separator: "\n")
            // (Redis time, kind): the command, and for a script its SHA. The first second is left
            // out: at start-up the registry and the inbox reader each add the claimed list (SADD).
            let timed: [(at: Double, kind: String)] = commands.compactMap { line in
                let words = line.split(separator: " ")
                guard let at = Double(words.first ?? ""), words.count >= 4 else { return nil }
                return (at, words[3...].prefix(words[3] == "\"EVALSHA\"" ? 2 : 1).joined(separator: " "))
            }
            let start = try #require(timed.first).at + 1
            let settled = timed.filter { $0.at >= start }
            // The idle loops each wait their interval (fetch and wake marker 4 s, inbox 5 s, janitor
            // and registry 10 s): on Redis's clock (MONITOR's timestamps), no kind of command comes
            // sooner than 3.5 s after the last, so the worker never spins, however the load
            // stretches the window.
            var last: [String: Double] = [:]
            var tooSoon: [String] = []
            for (at, kind) in settled {
                if let previous = last[kind], at - previous < 3.5 { tooSoon.append("\(kind) again after \(at - previous) s") }
                last[kind] = at
            }
            #expect(tooSoon.isEmpty, "\(tooSoon.prefix(5)):\n\(listing)")
            // About 1.5 commands a second: in any 10 s of Redis's clock at most 3 fetches and 2 inbox
            // waits (two commands each), one registry refresh (five), one janitor look (one) and a
            // health PING: 17, so any 18 in a row span 10 s or more.
            let times = settled.map(\.at)
            #expect(zip(times, times.dropFirst(17)).allSatisfy { $1 - $0 >= 10 },
                    "more than 17 commands within 10 s (\(commands.count) in the capture):\n\(listing)")

            // Wakes at once: from the push to the job's start on Redis's clock, well under the idle
            // waits (4 and 5 s) that a worker missing its wake-up would sit out. A load spike can
            // delay one pickup, so the best of up to three counts; each waits until the worker is idle again.
            var pickups: [Int64] = []
            for attempt in 0..<3 {
                try await Task.sleep(for: .seconds(1))
                let pushedAt = try await probe.redisMilliseconds()
                try await probe.push(#"{"id":"wake-\#(attempt)","type":"noop"}"#)
                #expect(await eventually(.seconds(60), every: .milliseconds(10)) { try await probe.queue.record(id: "wake-\(attempt)")?.state == .completed })
                let started = try #require(Int64(try await probe.queue.record(id: "wake-\(attempt)")?.fields["started_at"] ?? ""))
                pickups.append(started - pushedAt)
                if started - pushedAt < 1000 { break }
            }
            #expect(pickups.contains { $0 < 1000 }, "an idle worker took \(pickups) ms to pick up a job")
        }
    }

    @Test("SIGTERM: a job that ends within the grace period completes; one that does not is handed back")
    func gracefulShutdown() async throws {
        // A grace period far longer than the short job's 0.8 s: a loaded machine may not stretch it past.
        try await withWorkers(count: 1, environment: fastWorkerSettings.merging(["MW_GRACE_S": "15", "MW_LEASE_S": "30"]) { $1 }) { redis, workers, probe, directory in
            try await probe.push(#"{"id":"short","type":"noop","options":{"duration_ms":800}}"#)
            #expect(await eventually { try await probe.queue.record(id: "short")?.state == .active })
            workers[0].process.signal(SIGTERM)
            #expect(await workers[0].process.wait(timeout: .seconds(60)) == 0, "\(workers[0].logText)")
            #expect(try await probe.queue.record(id: "short")?.state == .completed)

            let second = try WorkerProcess.start(redisURL: redis.url, id: "second", directory: directory,
                                                 environment: fastWorkerSettings.merging(["MW_GRACE_S": "1", "MW_LEASE_S": "30"]) { $1 })
            defer { second.process.signal(SIGKILL) }
            try await probe.push(#"{"id":"long","type":"noop","options":{"duration_ms":20000}}"#)
            #expect(await eventually { try await probe.queue.record(id: "long")?.state == .active })
            let stopping = ContinuousClock.now
            second.process.signal(SIGTERM)
            #expect(await second.process.wait(timeout: .seconds(60)) == 0, "\(second.logText)")
            // Well under the 30 s lease: the job was handed back, not left to expire (the margin
            // is for a loaded CI machine; an idle one stops in about 1.5 s).
            #expect(ContinuousClock.now - stopping < .seconds(15), "stopped after \(ContinuousClock.now - stopping)")
            let handedBack = try #require(try await probe.queue.record(id: "long"))
            #expect(handedBack.state == .waiting && handedBack.attempts == 0)
            #expect(try await probe.events().contains { $0["type"] as? String == "JobReleased" && $0["job_id"] as? String == "long" })
        }
    }

    @Test("cancel reaches a running job within a second; waiting ones end at once")
    func cancelRunningJob() async throws {
        try await withWorkers(count: 1) { _, _, probe, _ in
            try await probe.push(#"{"id":"c1","type":"noop","options":{"duration_ms":20000}}"#)
            #expect(await eventually { try await probe.queue.record(id: "c1")?.state == .active })
            let result = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["cancel", "c1"],
                                                     environment: ["MW_REDIS_URL": probe.queue.client.url.description])
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "cancel_requested", "\(result.stderr)")
            #expect(await eventually(.seconds(30), every: .milliseconds(20)) { try await probe.queue.record(id: "c1")?.state == .canceled })
            // On Redis's clock, from the request to the end (the CLI's own start-up is not the worker's delay).
            let record = try #require(try await probe.queue.record(id: "c1"))
            let requested = try #require(record.fields["cancel_requested_at"].flatMap { Int64($0) })
            let finished = try #require(record.fields["finished_at"].flatMap { Int64($0) })
            #expect(finished - requested < 1500, "stopped \(finished - requested) ms after the request")
            #expect(try await probe.terminalEvents()["c1"] == ["NoopCanceled"])
        }
    }

    @Test("several queues: the first named is served first when slots are scarce; progress is throttled")
    func queuePrecedence() async throws {
        // A lease far longer than the blocker's stay: it must not be recovered while it holds the slot.
        try await withWorkers(count: 1, environment: fastWorkerSettings.merging(["MW_QUEUES": "urgent,default", "MW_LEASE_S": "30"]) { $1 }) { redis, _, probe, _ in
            let urgent = try QueueProbe(redisURL: redis.url, queue: "urgent")
            // The one slot is held by a blocker until all six jobs wait in their queues; then the
            // blocker is canceled and the slot is free with both queues full. Events, not a window
            // a loaded machine could close before the pushes are in.
            try await probe.push(#"{"id":"blocker","type":"noop","options":{"duration_ms":600000}}"#)
            #expect(await eventually(.seconds(30)) { try await probe.queue.record(id: "blocker")?.state == .active })
            let pushes = (0..<3).map { ["RPUSH", probe.queue.inboxKey, #"{"id":"d\#($0)","type":"noop"}"#] }
                + (0..<3).map { ["RPUSH", urgent.queue.inboxKey, #"{"id":"u\#($0)","type":"noop"}"#] }
            _ = try await probe.queue.client.pipeline([["MULTI"]] + pushes + [["EXEC"]])
            #expect(await eventually(.seconds(60)) {
                let waiting = try await probe.queue.counts().waiting
                let urgentWaiting = try await urgent.queue.counts().waiting
                return waiting == 3 && urgentWaiting == 3
            })
            // Progress while it runs: at most one JobProgress a second on Redis's clock, and some.
            try await Task.sleep(for: .seconds(2))
            _ = try await probe.queue.cancel(id: "blocker")
            #expect(await eventually(.seconds(60)) {
                let done = try await probe.queue.counts().completed
                let urgentDone = try await urgent.queue.counts().completed
                return done == 3 && urgentDone == 3
            })
            let startedAt: (QueueProbe, String) async throws -> String = { probe, id in
                try #require(try await probe.queue.record(id: id)?.fields["started_at"])
            }
            let lastUrgent = try await [0, 1, 2].asyncMap { try await Int64(startedAt(urgent, "u\($0)"))! }.max()!
            let firstDefault = try await [0, 1, 2].asyncMap { try await Int64(startedAt(probe, "d\($0)"))! }.min()!
            #expect(lastUrgent <= firstDefault)
            let blocker = try #require(try await probe.queue.record(id: "blocker"))
            #expect(blocker.state == .canceled)
            let ran = try #require(Int64(blocker.fields["finished_at"] ?? "")) - (try #require(Int64(blocker.fields["started_at"] ?? "")))
            let progress = try await probe.events().filter { $0["type"] as? String == "JobProgress" && $0["job_id"] as? String == "blocker" }
            // `occurred_at` is Redis's clock in RFC 3339 with microseconds ("…T16:00:00.123456Z").
            let stamps: [Int64] = progress.compactMap { event in
                guard let text = event["occurred_at"] as? String, text.count > 20,
                      let whole = ISO8601DateFormatter().date(from: String(text.prefix(19)) + "Z") else { return nil }
                let fraction = Double("0" + text.dropFirst(19).prefix { $0 != "Z" && $0 != "+" }) ?? 0
                return Int64(((whole.timeIntervalSince1970 + fraction) * 1000).rounded())
            }
            #expect(stamps.count == progress.count)
            #expect(!progress.isEmpty && Int64(progress.count) <= ran / 1000 + 1, "\(progress.count) progress events in \(ran) ms")
            #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $1 - $0 >= 999 }, "\(stamps)")
            await urgent.queue.client.close()
        }
    }

    @Test("events --follow prints new events as they happen")
    func eventsFollow() async throws {
        try await withWorkers(count: 1) { redis, _, probe, directory in
            let output = directory.appendingPathComponent("follow.out").path
            let follower = try ChildProcess.spawn(try ProjectPaths.executable("media-worker"), ["events", "--follow"],
                                                  environment: ["MW_REDIS_URL": redis.url], stdout: output)
            defer { follower.signal(SIGKILL) }
            // `--follow` starts at the stream's end (as `tail -f`): push only once it is blocked reading,
            // or a slow process start would miss the event.
            #expect(await eventually(.seconds(20)) {
                let clients = try await probe.queue.client.command(["CLIENT", "LIST"]).string ?? ""
                return clients.contains("cmd=xread")
            })
            try await probe.push(#"{"id":"followed","type":"noop"}"#)
            #expect(await eventually {
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                return text.contains(#""type":"NoopCompleted""#) && text.contains("followed")
            })
        }
    }

    @Test("a job over its timeout_s is stopped and fails with JOB_TIMEOUT")
    func jobTimeout() async throws {
        try await withWorkers(count: 1) { _, _, probe, _ in
            try await probe.push(#"{"id":"slow","type":"noop","timeout_s":1,"max_attempts":1,"options":{"duration_ms":300000}}"#)
            #expect(await eventually(.seconds(120)) { try await probe.queue.record(id: "slow")?.state == .dead })
            let record = try #require(try await probe.queue.record(id: "slow"))
            #expect(record.errorCode == "JOB_TIMEOUT")
            // On Redis's clock: not before its second was up, and long before the 300 s the job wanted.
            let ran = try #require(Int64(record.fields["finished_at"] ?? "")) - (try #require(Int64(record.fields["started_at"] ?? "")))
            #expect(ran >= 1000 && ran < 60_000, "ran \(ran) ms")
            #expect(try await probe.terminalEvents()["slow"] == ["NoopFailed"])
        }
    }

    @Test("invalid payloads become dead jobs with a reason; the worker keeps serving")
    func invalidPayloads() async throws {
        try await withWorkers(count: 1) { _, workers, probe, _ in
            try await probe.push("{not json")
            try await probe.push("[1, 2]")
            try await probe.push(#"{"id":"unknown-type","type":"transmogrify"}"#)
            try await probe.push(#"{"id":"bad-attempts","type":"noop","max_attempts":-3}"#)
            try await probe.push(bytes: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])
            try await probe.push(String(repeating: "[", count: 100_000))
            try await probe.push(#"{"type":"noop","metadata":{"pad":""#) // cut short
            try await probe.push(#"{"id":"big","type":"noop","metadata":{"pad":"\#(String(repeating: "x", count: 2 << 20))"}}"#)
            try await probe.push(#"{"id":"fine","type":"noop"}"#)
            #expect(await eventually(.seconds(10)) { try await probe.queue.record(id: "fine")?.state == .completed })
            let dead = try await probe.queue.deadJobs()
            let codes = Set(dead.compactMap(\.errorCode))
            #expect(dead.count == 8, "\(dead.map(\.fields))")
            #expect(codes.isSuperset(of: ["JOB_INVALID_JSON", "JOB_INVALID_NOTIFICATION", "JOB_UNKNOWN_TYPE", "JOB_INVALID_FIELD",
                                          "JOB_INVALID_UTF8", "JOB_TOO_DEEP", "JOB_TOO_LARGE"]), "\(codes)")
            #expect(try await probe.queue.record(id: "unknown-type")?.errorCode == "JOB_UNKNOWN_TYPE")
            #expect(try workers[0].get("/healthz").status == 200)
        }
    }

    @Test("operator commands: enqueue, status, dead list/retry/purge, workers, events")
    func operatorCommands() async throws {
        try await withWorkers(count: 1) { redis, _, probe, _ in
            let cli = try ProjectPaths.executable("media-worker")
            let env = ["MW_REDIS_URL": redis.url]
            let enqueued = try await CommandRunner.run(cli, ["enqueue", #"{"type":"noop","metadata":{"movie":"m-1"}}"#], environment: env)
            #expect(enqueued.succeeded, "\(enqueued.stderr)")
            let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(UUID(uuidString: id) != nil)
            #expect(await eventually { try await probe.queue.record(id: id)?.state == .completed })
            let status = try await CommandRunner.run(cli, ["status", id], environment: env)
            let record = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(record["state"] as? String == "completed")
            #expect((record["metadata"] as? [String: Any])?["movie"] as? String == "m-1")

            let refused = try await CommandRunner.run(cli, ["enqueue", #"{"type":"noop","max_attempts":0}"#], environment: env)
            #expect(refused.status == 1 && refused.stderr.hasPrefix("error JOB_INVALID_FIELD"))

            _ = try await CommandRunner.run(cli, ["enqueue", #"{"id":"doomed","type":"noop","options":{"fail_with":{"code":"DRILL"}}}"#], environment: env)
            #expect(await eventually { try await probe.queue.record(id: "doomed")?.state == .dead })
            let list = try await CommandRunner.run(cli, ["dead", "list"], environment: env)
            #expect(list.stdout.contains(#""error_code":"DRILL""#), "\(list.stdout)")
            let retry = try await CommandRunner.run(cli, ["dead", "retry", "--all"], environment: env)
            #expect(retry.stdout.contains("retried 1"))
            #expect(await eventually {
                let record = try await probe.queue.record(id: "doomed")
                return record?.state == .dead && record?.fields["history"]?.components(separatedBy: "DRILL").count == 3
            })
            let purge = try await CommandRunner.run(cli, ["dead", "purge"], environment: env)
            #expect(purge.stdout.contains("purged 1"))

            let workers = try await CommandRunner.run(cli, ["workers"], environment: env)
            #expect(workers.stdout.contains(#""id":"w0""#), "\(workers.stdout)")
            let events = try await CommandRunner.run(cli, ["events"], environment: env)
            let lines = events.stdout.split(separator: "\n")
            #expect(lines.contains { $0.contains(#""type":"NoopCompleted""#) && $0.contains(id) })
            let missing = try await CommandRunner.run(cli, ["status", "nope"], environment: env)
            #expect(missing.status == 1 && missing.stderr.hasPrefix("error JOB_NOT_FOUND"))
        }
    }
}
