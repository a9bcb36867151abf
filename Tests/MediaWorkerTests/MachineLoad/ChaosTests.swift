import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// Chaos: worker processes on mixed media jobs while workers are SIGKILLed and replaced, one is
/// SIGTERMed, redis-server is SIGKILLed and started again (AOF, appendfsync always) and paused. Afterwards every job has
/// exactly one terminal state and one terminal event, nothing is left waiting or active, every
/// completed job's publication is whole (its stable master plays, its stills exist, each of its
/// keyframes announced once), failed and cancelled jobs left no outputs, the janitors emptied
/// the trash, and no job folder is left behind.
///
/// `make test` runs a short form (80 jobs, 24 s of chaos); `make chaos` the full one (300 jobs, 90 s).
@Suite("Chaos", .serialized)
struct ChaosTests {
    struct Figures: CustomStringConvertible {
        var jobs = 0, completed = 0, dead = 0, canceled = 0
        var kills = 0, terminations = 0, redisRestarts = 0, redisPauses = 0
        var retries = 0, stallsRecovered = 0, poisonPills = 0
        var seconds = 0.0
        var description: String {
            "chaos: \(jobs) jobs (\(completed) completed, \(dead) failed, \(canceled) cancelled) in \(String(format: "%.1f", seconds)) s; "
                + "\(kills) SIGKILLs, \(terminations) SIGTERM, \(redisRestarts) redis SIGKILL and restart, \(redisPauses) redis pause; "
                + "\(retries) retries, \(stallsRecovered) stalls recovered, \(poisonPills) poison pills"
        }
    }

    static var jobCount: Int { Int(ProcessInfo.processInfo.environment["MW_CHAOS_JOBS"] ?? "") ?? 80 }
    /// How long the chaos lasts; jobs are pushed over its first two thirds, so work is always under way.
    static var chaosSeconds: Double { Double(ProcessInfo.processInfo.environment["MW_CHAOS_SECONDS"] ?? "") ?? 24 }

    @Test("workers killed every 1-2 s, one SIGTERM, redis SIGKILLed and restarted, paused: every job ends exactly once, every publication whole, nothing left over")
    func chaos() async throws {
        let directory = try makeTestDirectory("chaos")
        defer { try? FileManager.default.removeItem(at: directory) }
        let raw = directory.appendingPathComponent("storage/raw")
        try FileManager.default.createDirectory(at: raw, withIntermediateDirectories: true)
        for (name, target) in [("short-0.5s.mp4", "short.mp4"), ("h264-720p-noaudio.mp4", "clip.mp4"), ("bad-random-bytes.mp4", "noise.mp4"),
                               ("keyframes-many.mp4", "keys.mp4")] {
            try FileManager.default.copyItem(atPath: try ProjectPaths.fixture(name), toPath: raw.appendingPathComponent(target).path)
        }
        let output = "file://" + directory.appendingPathComponent("storage/out/").path
        func input(_ name: String) -> String { "file://" + raw.appendingPathComponent(name).path }
        // Short leases so killed workers' jobs come back quickly; many attempts so kills alone never exhaust them.
        let settings = ["MW_LEASE_S": "2", "MW_RETRY_BASE_S": "0.05", "MW_RETRY_CAP_S": "0.5", "MW_GRACE_S": "1", "MW_CONCURRENCY": "2",
                        // Kills aim at busy workers, so the same job can be hit again and again: a higher poison-pill bar.
                        "MW_MAX_STALLS": "5"]

        var rng = SystemRandomNumberGenerator()
        var figures = Figures()
        let started = ContinuousClock.now
        try await RedisServer.with(.init(appendOnly: true, appendFsync: "always")) { redis in
            var workers: [WorkerProcess] = []
            defer { for worker in workers { worker.process.signal(SIGKILL) } }
            func startWorker() throws {
                workers.append(try WorkerProcess.start(redisURL: redis.url, id: "chaos-\(workers.count)", directory: directory, environment: settings))
            }
            for _ in 0..<4 { try startWorker() }
            let probe = try QueueProbe(redisURL: redis.url)

            // The mix: probes, thumbnails, keyframes, a few transcodes of short fixtures, noops,
            // bad inputs (fail at once), and long noops cancelled while they wait or run.
            var expectations: [String: Set<JobState>] = [:]
            var cancelled: [String] = []
            var jobs: [String] = []
            for index in 0..<Self.jobCount {
                let id = "j\(index)"
                let job: String
                switch index % 10 {
                case 0, 1, 2:
                    job = #"{"id":"\#(id)","type":"probe","max_attempts":25,"input":{"url":"\#(input("clip.mp4"))"}}"#
                case 3:
                    job = #"{"id":"\#(id)","type":"thumbnails","max_attempts":25,"input":{"url":"\#(input("clip.mp4"))"},"output":{"url":"\#(output)"},"file_id":"\#(id)","options":{"count":2,"max_width":160}}"#
                case 4:
                    job = #"{"id":"\#(id)","type":"keyframes","max_attempts":25,"input":{"url":"\#(input("keys.mp4"))"},"output":{"url":"\#(output)"},"file_id":"\#(id)","options":{"max_width":96}}"#
                case 5 where index % 20 == 5:
                    job = #"{"id":"\#(id)","type":"transcode","max_attempts":25,"input":{"url":"\#(input("short.mp4"))"},"output":{"url":"\#(output)"},"file_id":"\#(id)","options":{"renditions":[234],"thumbnails":1,"storyboard":false,"preset":"ultrafast"}}"#
                case 6:
                    job = #"{"id":"\#(id)","type":"probe","max_attempts":25,"input":{"url":"\#(input("noise.mp4"))"}}"#
                    expectations[id] = [.dead]
                    jobs.append(job)
                    continue
                case 7 where index % 20 == 7:
                    job = #"{"id":"\#(id)","type":"noop","max_attempts":25,"options":{"duration_ms":30000}}"#
                    cancelled.append(id)
                    expectations[id] = [.canceled]
                    jobs.append(job)
                    continue
                default:
                    job = #"{"id":"\#(id)","type":"noop","max_attempts":25,"options":{"duration_ms":\#(Int.random(in: 1000...3000, using: &rng))}}"#
                }
                expectations[id] = [.completed]
                jobs.append(job)
            }
            figures.jobs = expectations.count

            // Chaos for a fixed time, while the jobs arrive: a SIGKILL (and a replacement) every
            // 1-2 s, one SIGTERM, one redis SIGKILL and restart, one 5 s pause; the cancels once they are queued.
            func allEnded() async -> Bool {
                guard let counts = try? await probe.queue.counts() else { return false }
                return counts.completed + counts.dead + counts.canceled >= figures.jobs
            }
            let chaosStart = ContinuousClock.now
            var pushed = 0, restarted = false, paused = false, terminated = false
            var pendingCancels = Set(cancelled)
            // A cancel is sent once the job's record exists (it may still sit in the inbox).
            func sendCancels() async {
                for id in pendingCancels where (try? await probe.queue.record(id: id)) != nil {
                    if (try? await probe.queue.cancel(id: id)) != nil { pendingCancels.remove(id) }
                }
            }
            func elapsed() -> Double { (ContinuousClock.now - chaosStart).seconds }
            while elapsed() < Self.chaosSeconds {
                let due = min(jobs.count, Int(Double(jobs.count) * min(1, elapsed() / (Self.chaosSeconds * 2 / 3))) + 1)
                while pushed < due {
                    do {
                        try await probe.push(jobs[pushed])
                        pushed += 1
                    } catch {
                        break   // redis is away: the rest next round (a repeated push of the same id is ignored)
                    }
                }
                await sendCancels()
                try await Task.sleep(for: .milliseconds(Int.random(in: 1000...2000, using: &rng)))
                if !restarted, elapsed() > Self.chaosSeconds * 0.3 {
                    await redis.crash()
                    try await redis.restart()
                    figures.redisRestarts += 1
                    restarted = true
                    continue
                }
                if !paused, elapsed() > Self.chaosSeconds * 0.6, let pid = redis.serverPID {
                    kill(pid, SIGSTOP)
                    try await Task.sleep(for: .seconds(5))
                    kill(pid, SIGCONT)
                    figures.redisPauses += 1
                    paused = true
                    continue
                }
                // Kill where it hurts: the owner of a running job when there is one.
                var owners: [String] = []
                for index in 0..<pushed {
                    if let record = try? await probe.queue.record(id: "j\(index)"), record.state == .active, let owner = record.fields["worker"] {
                        owners.append(owner)
                    }
                }
                let living = workers.indices.filter { workers[$0].process.isRunning }
                let busy = living.filter { owners.contains(workers[$0].id) }
                if let victim = (busy.isEmpty ? living : busy).randomElement(using: &rng) {
                    if !terminated, elapsed() > Self.chaosSeconds * 0.45 {
                        workers[victim].process.signal(SIGTERM)
                        figures.terminations += 1
                        terminated = true
                    } else {
                        workers[victim].process.signal(SIGKILL)
                        figures.kills += 1
                    }
                }
                try startWorker()
            }
            while pushed < jobs.count {
                do {
                    try await probe.push(jobs[pushed])
                    pushed += 1
                } catch {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(await eventually(.seconds(30)) { await sendCancels(); return pendingCancels.isEmpty }, "cancels not sent: \(pendingCancels)")
            // Calm: the survivors finish what is left.
            let ended = await eventually(.seconds(120)) { await allEnded() }
            let countsNow = try? await probe.queue.counts()
            #expect(ended, "\(String(describing: countsNow))")
            figures.seconds = (ContinuousClock.now - started).seconds

            let counts = try await probe.queue.counts()
            #expect(counts.waiting == 0 && counts.active == 0 && counts.inbox == 0 && counts.scheduled == 0, "\(counts)")
            let terminal = try await probe.terminalEvents()
            for (id, allowed) in expectations.sorted(by: { $0.key < $1.key }) {
                let record = try await probe.queue.record(id: id)
                let state = record?.state
                // The poison-pill rule is a legitimate end: a job whose worker died under it MW_MAX_STALLS times.
                let poisonPill = state == .dead && record?.errorCode == "JOB_STALLED"
                if poisonPill { figures.poisonPills += 1 }
                #expect(poisonPill || state.map { allowed.contains($0) } == true,
                        "\(id): \(String(describing: state)), expected \(allowed): \(String(describing: record?.errorCode)) \(record?.fields["error_message"] ?? "") attempts \(record?.attempts ?? 0)")
                #expect(terminal[id]?.count == 1, "\(id): terminal events \(terminal[id] ?? [])")
                figures.retries += max(0, (record?.attempts ?? 1) - 1)
                switch record?.state {
                case .completed?: figures.completed += 1
                case .dead?: figures.dead += 1
                case .canceled?: figures.canceled += 1
                default: break
                }
                // Failed and cancelled jobs leave nothing under their prefix; completed ones exactly one set.
                let prefix = directory.appendingPathComponent("storage/out/\(id)").path
                if record?.state != .completed {
                    #expect(!FileManager.default.fileExists(atPath: prefix), "\(id) ended \(String(describing: record?.state)) but left outputs")
                }
            }
            figures.stallsRecovered = try await probe.events().filter { $0["type"] as? String == "JobStalled" }.count
            // Every completed job's publication is whole, from what its completion event names.
            let allEvents = try await probe.events()
            for (id, _) in expectations.sorted(by: { $0.key < $1.key }) {
                guard let done = allEvents.last(where: { $0["job_id"] as? String == id && ($0["type"] as? String)?.hasSuffix("Completed") == true }),
                      let data = done["data"] as? [String: Any], let version = data["version"] as? String else { continue }
                func exists(_ url: Any?) -> Bool { (url as? String).map { FileManager.default.fileExists(atPath: String($0.dropFirst("file://".count))) } ?? false }
                let prefix = directory.appendingPathComponent("storage/out/\(id)").path
                // Only the published version is left under v/ (the killed attempts' ones were deleted).
                let versions = (try? FileManager.default.contentsOfDirectory(atPath: prefix + "/v")) ?? []
                #expect(versions == [version], "\(id): versions \(versions), published \(version)")
                switch done["type"] as? String {
                case "KeyframesCompleted":
                    // Many keyframes, each announced exactly once, just before the completion, all stored.
                    let ready = allEvents.filter { $0["job_id"] as? String == id && $0["type"] as? String == "KeyframeReady" }
                    let indices = ready.compactMap { ($0["data"] as? [String: Any])?["index"] as? Int }
                    #expect(indices == Array(0..<12), "\(id): KeyframeReady indices \(indices)")
                    #expect(data["count"] as? Int == 12 && ready.allSatisfy { exists(($0["data"] as? [String: Any])?["url"]) }, "\(id)")
                case "ThumbnailsCompleted":
                    let thumbnails = data["thumbnails"] as? [[String: Any]] ?? []
                    #expect(thumbnails.count == 2 && thumbnails.allSatisfy { exists($0["url"]) }, "\(id): \(thumbnails)")
                case "TranscodeCompleted":
                    let master = prefix + "/hls/master.m3u8"
                    let verdict = try await judgeHLS(master, target: nil)
                    #expect(verdict.errors.isEmpty, "\(id): \(verdict.errors)")
                    #expect(exists((data["outputs"] as? [String: Any])?["poster"].flatMap { ($0 as? [String: Any])?["url"] }), "\(id): no poster")
                default:
                    break
                }
            }
            // The janitors leave no trash: every failed, cancelled or fenced-off attempt's version is gone.
            let trash = probe.queue.keyBase + "trash"
            let emptied = await eventually(.seconds(60)) { try await probe.queue.client.command(["ZCARD", trash]).integer == 0 }
            let left = try? await probe.queue.client.command(["ZRANGE", trash, "0", "-1"])
            #expect(emptied, "trash left: \(String(describing: left))")

            // Stop the workers; one fresh start removes the folders of those that were killed.
            for worker in workers where worker.process.isRunning { worker.process.signal(SIGTERM) }
            for worker in workers { _ = await worker.process.wait(timeout: .seconds(15)) }
            let sweeper = try WorkerProcess.start(redisURL: redis.url, id: "sweeper", directory: directory, environment: settings)
            #expect(await sweeper.waitUntilReady(), "\(sweeper.logText)")
            sweeper.process.signal(SIGTERM)
            _ = await sweeper.process.wait(timeout: .seconds(15))
            let temp = directory.appendingPathComponent("tmp").path
            let jobFolders = (try FileManager.default.contentsOfDirectory(atPath: temp)).filter { $0.hasPrefix("mw-") }.flatMap { folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: temp + "/" + folder)) ?? []).filter { $0 != ".lock" }.map { folder + "/" + $0 }
            }
            #expect(jobFolders.isEmpty, "job folders left: \(jobFolders)")
            await probe.queue.client.close()
        }
        print(figures)
    }
}
