import Foundation
import JobContract
import QueueClient
import RedisClient
import TestSupport

/// A randomized schedule explorer over the real queue scripts on a real redis-server (in the
/// spirit of Jepsen): simulated workers, a janitor, producers and operators take turns in an
/// order drawn from a seed, with faults injected between any two steps, and the invariants of
/// docs/queue.md are checked as it goes and once it has quiesced. No media: the work is steps.
///
/// Faults: a worker freezes past its lease and later wakes and carries on (its leases are made
/// to expire, as Redis's clock would after the freeze); a worker dies for good mid-job; a
/// reply is lost after Redis applied the call (the worker calls again, as `withRedisRetry`
/// does); a key with an expiry expires early (the retention ran out while others waited); the
/// janitor dies holding versions. Time otherwise never moves on its own: leases, fences and
/// the parents' check are long, and the explorer makes them due when a fault or quiescence
/// says time has passed, so a schedule does not depend on how loaded the machine is.
final class ProtocolExplorer {
    struct Settings {
        var jobs = 8
        var workers = 3
        var concurrency = 2
        var steps = 500
    }

    let seed: UInt64
    let settings: Settings
    let client: RedisClient
    let queueName: String
    var random: SeededGenerator
    let storage = ModelStorage()
    let janitor = ModelJanitor()
    var workers: [ModelWorker] = []
    var operatorQueue: JobQueue
    var producerIDs: [String] = []
    var pending: [NewJob] = []
    var partIDs: Set<String> = []
    var workerCount = 0
    var versionCount = 0
    /// What the schedule did, for the report on a failure (the last lines matter most).
    var trace: [String] = []
    var faults: [String: Int] = [:]
    var checks = 0

    static let lease: Duration = .seconds(600)

    init(seed: UInt64, settings: Settings = Settings(), client: RedisClient) {
        self.seed = seed
        self.settings = settings
        self.client = client
        self.random = SeededGenerator(seed: seed)
        self.queueName = "pc\(seed)"
        self.operatorQueue = JobQueue(name: queueName, options: Self.options, client: client, actor: "cli")
    }

    static var options: QueueOptions {
        var options = QueueOptions()
        options.lease = lease
        options.maxStalls = 2
        options.eventsMaxLength = 10_000_000
        return options
    }

    var base: String { operatorQueue.keyBase }
    var files: [String] { ["fa", "fb", "fc"] }

    /// With `MW_CHECKER_TRACE=<file>` every step is kept and written there on a failure.
    static let traceFile = ProcessInfo.processInfo.environment["MW_CHECKER_TRACE"]

    func note(_ line: String) {
        trace.append(line)
        if Self.traceFile == nil, trace.count > 400 { trace.removeFirst(trace.count - 400) }
    }

    func fault(_ name: String) { faults[name, default: 0] += 1 }

    func newWorker() -> ModelWorker {
        workerCount += 1
        let worker = ModelWorker(name: "w\(workerCount)", queue: JobQueue(name: queueName, options: Self.options, client: client, actor: "w\(workerCount)"))
        workers.append(worker)
        return worker
    }

    func newVersionID() -> String {
        versionCount += 1
        return "v\(versionCount)"
    }

    // MARK: the schedule

    /// Runs one schedule, then quiesces and checks everything. Throws the first violation.
    func run() async throws {
        for _ in 0..<settings.workers { _ = newWorker() }
        makeJobs()
        for _ in 0..<settings.steps {
            try await step()
            try await checkContinuously()
        }
        try await quiesce()
        try await ProtocolInvariants(explorer: self).checkQuiesced()
        try await simulateRetention()
        try await ProtocolInvariants(explorer: self).checkNoLeaks()
    }

    /// Producers' jobs: plain ones that publish into a file's slot (several per file, so
    /// publications supersede each other), split ones, and jobs whose ids look like part ids.
    func makeJobs() {
        for index in 0..<settings.jobs {
            let file = files[index % files.count]
            let split = random.chance(0.4)
            let id = split ? "s\(index)" : "j\(index)"
            pending.append(job(id, kind: split ? .split : .plain, file: file))
        }
        // A producer's id in the form part ids once had (and in the form a split makes today with
        // a producer's separator): it must never be taken by a part.
        let forged = pending.first { $0.id.hasPrefix("s") }?.id ?? "s0"
        pending.append(job("\(forged):a1:c0", kind: .plain, file: "fc"))
        pending.append(job("\(forged)-a1-c0", kind: .plain, file: "fc"))
        pending.shuffle(using: &random)
    }

    func job(_ id: String, kind: ModelRun.Kind, file: String) -> NewJob {
        NewJob(id: id, type: kind == .split ? "transcode" : "noop", maxAttempts: 3,
               payload: #"{"kind":"\#(kind.rawValue)","file":"\#(file)"}"#, metadataJSON: #"{"seed":"\#(seed)"}"#,
               fileID: kind == .split ? file : nil)
    }

    func step() async throws {
        let roll = Double.random(in: 0..<1, using: &random)
        if roll < 0.10 {
            if pending.isEmpty { try await workerStep() } else { try await ingest() }
        } else if roll < 0.13 {
            let worker = freezeWorker()
            try await expireLeases(of: worker, frozen: true)
        } else if roll < 0.16 {
            // A pause within its lease (a long GC, a busy host): the world moves on, its leases hold.
            let worker = workers.randomElement(using: &random)!
            worker.frozenFor = Int.random(in: 10...60, using: &random)
            fault("worker paused within its lease")
            note("\(worker.name) pauses")
        } else if roll < 0.175 {
            try await crashWorker()
        } else if roll < 0.21 {
            let worker = workers.randomElement(using: &random)!
            worker.loseNextReply = true
            fault("lost reply")
        } else if roll < 0.23 {
            try await expireAKey()
        } else if roll < 0.26 {
            try await operatorCancel()
        } else if roll < 0.31 {
            try await operatorRetryDead()
        } else if roll < 0.41 {
            try await janitorStep()
        } else if roll < 0.42 {
            if !janitor.held.isEmpty { fault("janitor died"); note("janitor dies holding \(janitor.held.map(\.version.id))") }
            janitor.held = []
        } else {
            try await workerStep()
        }
    }

    /// One worker's turn: a frozen or paused one lets it pass; others fetch or take a step.
    func workerStep() async throws {
        let worker = workers.randomElement(using: &random)!
        if worker.frozenFor > 0 {
            worker.frozenFor -= 1
            return
        }
        // A held run waits until its job has split anew or ended; the worker's other runs go on.
        var resumed: String?
        for index in worker.runs.indices where worker.runs[index].heldUntilResplit {
            let parent = worker.runs[index].delivery.id.split(separator: JobPart.separator).first.map(String.init) ?? ""
            let state = try await client.command(["HGET", operatorQueue.jobKey(parent), "state"]).string ?? ""
            worker.runs[index].heldTurns -= 1
            if state == "waiting_children" || ["completed", "dead", "canceled", ""].contains(state) || worker.runs[index].heldTurns <= 0 {
                worker.runs[index].heldUntilResplit = false
                note("\(worker.runs[index].delivery.id) resumes (\(parent) is \(state.isEmpty ? "gone" : state))")
                // The worst case: it finishes before its next heartbeat could tell it to stop.
                if state == "waiting_children" { resumed = worker.runs[index].delivery.token }
            }
        }
        if let token = resumed {
            for _ in 0..<10 {
                guard let index = worker.runs.firstIndex(where: { $0.delivery.token == token }) else { break }
                try await advance(worker, runIndex: index, faults: false)
            }
            return
        }
        let free = worker.runs.indices.filter { !worker.runs[$0].heldUntilResplit }
        if worker.runs.count < settings.concurrency, random.chance(0.3) || free.isEmpty {
            try await fetch(worker)
        } else if let index = free.randomElement(using: &random) {
            try await advance(worker, runIndex: index, faults: true)
        }
    }

    func ingest() async throws {
        let count = min(pending.count, Int.random(in: 1...2, using: &random))
        let jobs = Array(pending.prefix(count))
        pending.removeFirst(count)
        try await client.command(["RPUSH", operatorQueue.inboxKey, "{}"])
        let claimed = try await operatorQueue.claim(max: 1, worker: "producer")
        guard let item = claimed.first else { throw ProtocolViolation(invariant: 1, message: "an inbox item vanished") }
        let results = try await operatorQueue.ingest(.jobs(jobs), item: item, worker: "producer")
        producerIDs += jobs.map(\.id)
        note("ingest \(jobs.map(\.id)) → \(results)")
    }

    func freezeWorker() -> ModelWorker {
        let worker = workers.randomElement(using: &random)!
        worker.frozenFor = Int.random(in: 3...30, using: &random)
        fault("worker frozen past its lease")
        note("\(worker.name) freezes")
        return worker
    }

    /// Time passes for one worker: its leases run out (Redis's clock moved past them).
    func expireLeases(of worker: ModelWorker, frozen: Bool) async throws {
        for run in worker.runs {
            _ = try await client.command(["ZADD", base + "active", "XX", "0", run.delivery.id])
        }
    }

    func crashWorker() async throws {
        let index = Int.random(in: 0..<workers.count, using: &random)
        let worker = workers[index]
        try await expireLeases(of: worker, frozen: false)
        note("\(worker.name) dies holding \(worker.runs.map(\.delivery.id))")
        fault("worker killed")
        workers.remove(at: index)
        _ = newWorker()
    }

    /// A key whose expiry is set goes now: its retention ran out while something else waited.
    func expireAKey() async throws {
        let keys = try await scan(base + "job:*")
        guard !keys.isEmpty else { return }
        let key = keys.randomElement(using: &random)!
        guard let ttl = try await client.command(["PTTL", key]).integer, ttl > 0 else { return }
        // A part its parent still needs (waiting for it, or at its stitch) must not expire.
        if let parent = try await client.command(["HGET", key, "parent"]).string {
            let info = (try await client.command(["HMGET", operatorQueue.jobKey(parent), "state", "children"]).array ?? []).map { $0.string }
            let state = info.first ?? nil
            let id = String(key.dropFirst(base.count + 4))
            if let state, !["completed", "dead", "canceled"].contains(state), (info.last ?? nil)?.contains("\"\(id)\"") == true {
                throw ProtocolViolation(invariant: 3, message: "part \(id) of \(parent) (\(state)) has an expiry: it can vanish before the stitch")
            }
        }
        _ = try await client.command(["DEL", key])
        fault("key expired")
        note("expire \(key)")
    }

    func operatorCancel() async throws {
        let ids = producerIDs + partIDs.sorted()
        guard let id = ids.randomElement(using: &random) else { return }
        let outcome = try await operatorQueue.cancel(id: id)
        fault("cancel")
        note("cancel \(id) → \(outcome)")
    }

    func operatorRetryDead() async throws {
        let dead = try await operatorQueue.deadJobIDs()
        // Split jobs most often: a retried split is where late parts meet a new attempt.
        let parents = dead.filter { $0.hasPrefix("s") && !$0.contains(JobPart.separator) }
        let pool = !parents.isEmpty && random.chance(0.8) ? parents : dead
        guard let id = pool.randomElement(using: &random) else { return }
        let retried = try await operatorQueue.retryDead(id: id)
        fault("dead retry")
        note("dead retry \(id) → \(retried)")
    }

    // MARK: workers

    func fetch(_ worker: ModelWorker) async throws {
        let result = try await worker.queue.fetch(max: settings.concurrency - worker.runs.count)
        for delivery in result.deliveries { adopt(delivery, by: worker) }
    }

    func adopt(_ delivery: Delivery, by worker: ModelWorker) {
        let payload = (try? JSONSerialization.jsonObject(with: Data(delivery.payload.utf8))) as? [String: Any] ?? [:]
        let kind = ModelRun.Kind(rawValue: payload["kind"] as? String ?? "plain") ?? .plain
        let file = payload["file"] as? String ?? "fa"
        var run = ModelRun(delivery: delivery, kind: kind, file: file, steps: [])
        run.parentVersionURL = payload["parent_version_url"] as? String
        let ending: [RunStep]
        // Parts fail for good more often: a failed part fails its parent, which an operator retries.
        let permanent = kind == .part ? 0.15 : 0.06
        switch Double.random(in: 0..<1, using: &random) {
        case ..<0.12: ending = [.fail(retryable: true)]
        case ..<(0.12 + permanent): ending = [.fail(retryable: false)]
        case ..<(0.16 + permanent): ending = [.release]
        default: ending = []
        }
        switch kind {
        case .plain: run.steps = [.open, .upload, .upload] + (ending.isEmpty ? [.publish, .writeStable, .complete] : ending)
        case .part: run.steps = [.open, .upload] + (ending.isEmpty ? [.complete] : ending)
        case .split where delivery.stage == "stitch":
            run.steps = [.checkParts, .upload] + (ending.isEmpty ? [.publish, .writeStable, .complete] : ending)
        case .split: run.steps = [.open, .upload] + (ending.isEmpty ? [.split] : ending)
        }
        worker.runs.append(run)
        note("\(worker.name) takes \(delivery.id) attempt \(delivery.attempt) token \(delivery.token)\(delivery.stage.map { " stage " + $0 } ?? ""): \(run.steps)")
    }

    /// One step of one delivery, or (with faults) a heartbeat or progress between steps.
    func advance(_ worker: ModelWorker, runIndex: Int, faults: Bool) async throws {
        var run = worker.runs[runIndex]
        let queue = worker.queue
        let id = run.delivery.id
        let token = run.delivery.token
        func drop(_ why: String) {
            note("\(worker.name) \(id)/\(token): \(why)")
            worker.runs.removeAll { $0.delivery.token == token }
        }
        if faults, random.chance(0.15) {
            let status = try await queue.heartbeat([(id, token)]).first ?? .lost
            switch status {
            case .held: return
            // Past its stable-name write a delivery completes whatever its lease says (as
            // JobExecution does): the refused completion puts the stable master back.
            case .lost where run.wroteStable: break
            case .lost: return drop("heartbeat: lease lost, stops")
            case .cancelRequested where run.wroteStable: break
            case .cancelRequested:
                let accepted = try await terminal(worker) { () throws(RedisError) in try await queue.acknowledgeCancel(id: id, token: token) }
                return drop("cancel acknowledged → \(accepted)")
            }
        }
        if faults, random.chance(0.05) {
            let held = try await queue.progress(id: id, token: token, json: #"{"percent":50}"#)
            if !held { drop("progress refused: stops") }
            return
        }
        guard let next = run.steps.first else { return drop("nothing left") }
        run.steps.removeFirst()
        worker.runs[runIndex] = run
        switch next {
        case .open:
            let version = newVersionID()
            let url: String
            if run.kind == .part {
                url = (run.parentVersionURL ?? "mem://\(run.file)/v/orphan/") + "p/\(id)/\(version)/"
            } else {
                url = "mem://\(run.file)/v/\(version)/"
            }
            let record = OutputVersionRecord(id: version, url: url, slot: run.slot,
                                             stableMaster: run.kind == .part ? nil : "mem://\(run.file)/master")
            guard try await queue.openVersion(id: id, token: token, version: record) else { return drop("open version refused") }
            run.version = version
            run.versionURL = url
        case .upload:
            if run.kind == .split, run.delivery.stage == "stitch", run.version == nil {
                // The stitch writes into the version its first run recorded.
                let recorded = try await client.command(["HGET", operatorQueue.jobKey(id), "version"]).string ?? ""
                guard !recorded.isEmpty, let url = try await client.command(["HGET", base + "version:" + recorded, "url"]).string else {
                    return drop("stitch: no version recorded")
                }
                run.version = recorded
                run.versionURL = url
            }
            // Uploads go out whatever the lease says (a frozen worker's request lands late).
            if let url = run.versionURL {
                storage.objects.insert(ModelStorage.prefix(of: url) + "o\(run.uploads)")
                run.uploads += 1
            }
        case .split:
            guard let versionURL = run.versionURL else { return drop("split without a version") }
            let assets = ["c0", "c1", "audio"].prefix(Int.random(in: 2...3, using: &random))
            let parts = assets.map { asset in
                JobPart(id: JobPart.id(parent: id, attempt: run.delivery.attempt, asset: asset), type: "transcode_chunk", work: .seconds(10),
                        payload: #"{"kind":"part","file":"\#(run.file)","parent_version_url":"\#(versionURL)"}"#, asset: asset)
            }
            let partList = parts.map { "\"\($0.id)\"" }.joined(separator: ",")
            let outcome = try await terminal(worker) { () throws(RedisError) in
                try await queue.fanOut(id: id, token: token, eventJSON: #"{"parts":[\#(partList)]}"#, parts: parts)
            }
            if outcome == .accepted { partIDs.formUnion(parts.map(\.id)) }
            if case .partExists(let part) = outcome {
                let ended = try await terminal(worker) { () throws(RedisError) in
                    try await queue.fail(id: id, token: token, code: "TRANSCODE_SPLIT_CONFLICT", message: "part \(part) exists",
                                         retryable: false, retryDelay: .zero)
                }
                return drop("split refused, part \(part) exists → \(ended)")
            }
            return drop("split → \(outcome)")
        case .checkParts:
            // The stitch reads every part's record: one gone is a job lost after all its work.
            let parts = try await queue.parts(of: id)
            let children = try await client.command(["HGET", operatorQueue.jobKey(id), "children"]).string ?? "[]"
            let expected = (try? JSONSerialization.jsonObject(with: Data(children.utf8))) as? [String] ?? []
            let missing = expected.filter { child in !parts.contains { $0.id == child && $0.state == .completed } }
            if !missing.isEmpty {
                // A stale stitch (its job ended or was taken over meanwhile) may find them gone:
                // its failure is refused anyway. One that still holds the job must not.
                if try await queue.heartbeat([(id, token)]).first != .held { return drop("stitch: stale, parts gone") }
                throw ProtocolViolation(invariant: 3, message: "the stitch of \(id) finds parts \(missing) gone or unfinished: \(parts)")
            }
        case .publish:
            let permission = try await queue.beginPublishing(id: id, token: token)
            switch permission {
            case .ok: break
            case .busy:
                // As JobExecution: ask again until the deadline, then fail (JOB_PUBLISH_BUSY, retryable).
                run.busyAnswers += 1
                run.steps.insert(run.busyAnswers < 4 ? .publish : .fail(retryable: true), at: 0)
            case .cancel:
                let accepted = try await terminal(worker) { () throws(RedisError) in try await queue.acknowledgeCancel(id: id, token: token) }
                return drop("publish: cancel → acknowledged \(accepted)")
            case .stale: return drop("publish: stale")
            case .noVersion:
                run.steps = [.fail(retryable: true)]
            }
        case .writeStable:
            if let version = run.version {
                storage.stable[run.file] = version
                run.wroteStable = true
            }
        case .complete:
            var assets: [Publication.AssetEvent] = []
            if run.kind == .part {
                let asset = id.split(separator: JobPart.separator).last.map(String.init) ?? ""
                assets = [.init(type: "TranscodeChunkCompleted",
                                dataJSON: #"{"asset_id":"\#(asset)","chunk_job_id":"\#(id)","chunk_attempt":\#(run.delivery.attempt),"encode_s":0,"seconds":0}"#)]
            }
            let grace: Duration = random.chance(0.5) ? .zero : .seconds(600)
            let publication = Publication(version: run.version, grace: grace, assets: assets)
            let accepted = try await terminal(worker) { () throws(RedisError) in
                try await queue.complete(id: id, token: token, dataJSON: #"{"version":"\#(run.version ?? "")"}"#, publication: publication)
            }
            if accepted, run.kind == .part, let parent = id.split(separator: JobPart.separator).first.map(String.init) {
                let info = (try await client.command(["HMGET", operatorQueue.jobKey(parent), "state", "children"]).array ?? []).map(\.string)
                if (info.last ?? nil)?.contains("\"\(id)\"") != true {
                    fault("late part completed (its job \((info.first ?? nil) ?? "gone"))")
                }
            }
            if !accepted && run.wroteStable {
                run.steps = [.restore]
                worker.runs[runIndex] = run
                note("\(worker.name) \(id)/\(token): complete refused: restores the stable master")
                return
            }
            return drop("complete → \(accepted)")
        case .restore:
            try await restoreStable(run, holder: token, queue: queue)
            return drop("restored")
        case .fail(let retryable):
            let outcome = try await terminal(worker) { () throws(RedisError) in
                try await queue.fail(id: id, token: token, code: "X_FAILED", message: "planned", retryable: retryable, retryDelay: .zero)
            }
            // An operator quick on the dashboard: the job a part just failed is retried at once,
            // while the workers of its other parts pause (within their leases): late parts.
            if outcome == .dead, run.kind == .part, random.chance(0.5),
               let parent = id.split(separator: JobPart.separator).first.map(String.init),
               try await operatorQueue.retryDead(id: parent) {
                fault("dead retry while parts run")
                for other in workers {
                    for index in other.runs.indices where other.runs[index].delivery.id.hasPrefix(parent + String(JobPart.separator))
                        && other.runs[index].delivery.token != token {
                        other.runs[index].heldUntilResplit = true
                        other.runs[index].heldTurns = 200
                    }
                }
                note("operator retries \(parent) at once; its parts' workers pause")
            }
            return drop("fail(retryable: \(retryable)) → \(outcome)")
        case .release:
            let released = try await terminal(worker) { () throws(RedisError) in try await queue.release(id: id, token: token) }
            return drop("release → \(released)")
        }
        if let index = worker.runs.firstIndex(where: { $0.delivery.token == token }) { worker.runs[index] = run }
        note("\(worker.name) \(id)/\(token): \(next) [\(run.file) \(run.version ?? "-")]")
        if run.steps.isEmpty { worker.runs.removeAll { $0.delivery.token == token } }
    }

    /// A call whose reply may be lost once after Redis applied it; the worker then calls again
    /// (as `withRedisRetry` does) and goes by the second answer.
    func terminal<T>(_ worker: ModelWorker, _ call: () async throws(RedisError) -> T) async throws -> T {
        if worker.loseNextReply {
            worker.loseNextReply = false
            _ = try await call()
            note("\(worker.name): reply lost, calls again")
        }
        return try await call()
    }

    /// `JobExecution.restoreStableNames`: under the slot's right, a master still pointing into
    /// the refused version is pointed back at the published one (or removed).
    func restoreStable(_ run: ModelRun, holder: String, queue: JobQueue) async throws {
        guard let lock = try await queue.lockSlot(run.slot, holder: holder, lease: Self.lease) else {
            note("restore of \(run.file): slot busy, left to the janitor")
            return
        }
        if let version = run.version, storage.stable[run.file] == version {
            storage.stable[run.file] = lock.currentVersion
        }
        try await queue.unlockSlot(lock)
    }

    // MARK: janitor

    func janitorStep() async throws {
        guard !janitor.held.isEmpty else {
            let (taken, _) = try await operatorQueue.takeTrash(max: 3, lease: Self.lease)
            janitor.held = taken.map { ($0, .repairBefore) }
            if !taken.isEmpty { note("janitor takes \(taken.map(\.id))") }
            return
        }
        let (version, phase) = janitor.held[0]
        let prefix = ModelStorage.prefix(of: version.url)
        let file = ModelStorage.file(of: version.url)
        func later(_ why: String) async throws {
            _ = try await operatorQueue.trashFailed(version: version.id, base: .milliseconds(1), cap: .milliseconds(1), error: why)
            janitor.held.removeFirst()
            note("janitor: \(version.id) later: \(why)")
        }
        switch phase {
        case .repairBefore, .repairAfter:
            if version.stableMaster != nil, storage.stable[file] == version.id {
                guard let lock = try await operatorQueue.lockSlot(version.slot, holder: "janitor:" + version.id, lease: Self.lease) else {
                    return try await later("slot busy")
                }
                if storage.stable[file] == version.id { storage.stable[file] = lock.currentVersion }
                try await operatorQueue.unlockSlot(lock)
                note("janitor: master of \(file) repaired to \(lock.currentVersion ?? "none")")
            }
            janitor.held[0].phase = phase == .repairBefore ? .delete : .forget
        case .delete:
            storage.delete(prefix: prefix)
            janitor.held[0].phase = .verify
        case .verify:
            if storage.hasObjects(under: prefix) { return try await later("objects appeared while it was deleted") }
            janitor.held[0].phase = .repairAfter
        case .forget:
            let done = try await operatorQueue.trashDeleted(version: version.id)
            janitor.held.removeFirst()
            note("janitor: \(version.id) deleted → \(done)")
        }
    }

    // MARK: continuous checks

    /// A published version is never deleted while it is current.
    func checkContinuously() async throws {
        checks += 1
        for file in files {
            guard let current = try await client.command(["HGET", base + "slot:slot-\(file)", "current"]).string, !current.isEmpty else { continue }
            if !storage.exists(version: current, file: file) {
                throw ProtocolViolation(invariant: 4, message: "the current version \(current) of \(file) lost its objects")
            }
        }
    }

    // MARK: quiescence

    /// No more faults: frozen workers wake, dead workers' leases run out, time passes for
    /// fences, retries and the parents' check, and everything runs until nothing is left.
    func quiesce() async throws {
        try await ingestAll()
        for worker in workers {
            worker.frozenFor = 0
            worker.loseNextReply = false
            for index in worker.runs.indices { worker.runs[index].heldUntilResplit = false }
        }
        for round in 0..<300 {
            // Every worker finishes what it holds (stale or not), one step at a time.
            for worker in workers {
                var guardSteps = 0
                while !worker.runs.isEmpty, guardSteps < 200 {
                    try await advance(worker, runIndex: 0, faults: false)
                    guardSteps += 1
                }
                worker.runs = []
            }
            try await makeTimePass()
            let worker = workers[round % workers.count]
            try await fetch(worker)
            var busy = !worker.runs.isEmpty
            for _ in 0..<1000 {
                let trash = try await client.command(["ZCARD", base + "trash"]).integer ?? 0
                if janitor.held.isEmpty && trash == 0 { break }
                try await janitorStep()
                busy = true
                try await makeTimePass()
            }
            if !busy, try await allEnded() { return }
        }
        throw ProtocolViolation(invariant: 3, message: "the queue did not quiesce in 300 rounds: \(try await unfinished())")
    }

    func ingestAll() async throws { while !pending.isEmpty { try await ingest() } }

    /// Everything timed is due now: leases, retries, fences, grace periods, janitor leases,
    /// publication rights and the parents' check.
    func makeTimePass() async throws {
        for set in ["active", "scheduled", "trash", "parents"] {
            let members = (try await client.command(["ZRANGE", base + set, "0", "-1"]).array ?? []).compactMap(\.string)
            for member in members { _ = try await client.command(["ZADD", base + set, "XX", "0", member]) }
        }
        for file in files where try await client.command(["EXISTS", base + "slot:slot-\(file)"]).integer == 1 {
            _ = try await client.command(["HSET", base + "slot:slot-\(file)", "publishing_until", "0"])
        }
    }

    func allEnded() async throws -> Bool { try await unfinished().isEmpty }

    /// Jobs (producers' and parts) not in a terminal state.
    func unfinished() async throws -> [String] {
        var left: [String] = []
        for key in try await scan(base + "job:*") {
            let state = try await client.command(["HGET", key, "state"]).string ?? ""
            if !["completed", "dead", "canceled"].contains(state) { left.append("\(key.dropFirst(base.count + 4))=\(state)") }
        }
        return left
    }

    /// The retention runs out: every key with an expiry goes, and the finished-job indexes are
    /// pruned (what the fetch script does once their time has come).
    func simulateRetention() async throws {
        for key in try await scan(base + "*") {
            if let ttl = try await client.command(["PTTL", key]).integer, ttl > 0 { _ = try await client.command(["DEL", key]) }
        }
        for set in ["completed", "canceled", "dead"] { _ = try await client.command(["DEL", base + set]) }
    }

    func scan(_ pattern: String) async throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await client.command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"]).array ?? []
            cursor = reply.first?.string ?? "0"
            keys += (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string)
        } while cursor != "0"
        return keys.sorted()  // SCAN's order depends on the server's history: a seed must not
    }

    func report(_ error: Error) -> String {
        if let file = Self.traceFile { try? trace.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8) }
        return """
        protocol checker: seed \(seed) broke \(error)
        reproduce: MW_CHECKER_SEED=\(seed) [MW_CHECKER_TRACE=<file>] swift test --filter ProtocolCheckerTests
        last steps:
        \(trace.suffix(60).joined(separator: "\n"))
        """
    }
}
