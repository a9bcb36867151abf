import Crypto
import Foundation
import JobContract
import Metrics
import RedisClient

/// Settings shared by every queue of a worker.
public struct QueueOptions: Sendable {
    /// First part of every key: `<prefix>:{<queue>}:...`.
    public var prefix: String = "mw"
    /// How long a delivery holds its job without a heartbeat.
    public var lease: Duration = .seconds(30)
    /// Stalls (expired leases) after which a job is dead as a poison pill.
    public var maxStalls: Int = 2
    /// How long completed and canceled job records are kept.
    public var retention: Duration = .seconds(24 * 3600)
    /// How long dead jobs are kept for `dead list` / `dead retry`.
    public var deadRetention: Duration = .seconds(30 * 24 * 3600)
    /// Approximate length the event stream is trimmed to (`XADD MAXLEN ~`).
    public var eventsMaxLength: Int = 100_000
    /// Replicas that must have a job's terminal transition before the worker goes on
    /// (`MW_REDIS_WAIT_REPLICAS`; 0: don't wait). Redis replicates asynchronously: without it a
    /// failover can lose a transition the master acknowledged (the job then runs again).
    public var waitReplicas: Int = 0
    /// How long `WAIT` may block the connection for them (`MW_REDIS_WAIT_TIMEOUT_MS`).
    public var waitTimeout: Duration = .seconds(1)

    public init() {}
}

/// One named queue in Redis and every transition on it. All keys share the hash tag
/// `{<queue>}`; each transition is one Lua script (see `QueueScripts`, the Lua in `Lua/`).
public struct JobQueue: Sendable {
    public let name: String
    public let options: QueueOptions
    public let client: RedisClient
    /// Who makes the changes (worker id, or "cli"): recorded in events and leases.
    public let actor: String
    /// Ends of jobs reported together go in one call (shared by copies of this value).
    let completions = CompletionGroup()

    public init(name: String, options: QueueOptions = QueueOptions(), client: RedisClient, actor: String) {
        self.name = name
        self.options = options
        self.client = client
        self.actor = actor
    }

    public var keyBase: String { "\(options.prefix):{\(name)}:" }
    /// Where producers `RPUSH` job JSON.
    public var inboxKey: String { keyBase + "inbox" }
    /// The Redis Stream of this queue's events.
    public var eventsKey: String { keyBase + "events" }
    public func claimedKey(worker: String) -> String { keyBase + "claimed:" + worker }
    public func jobKey(_ id: String) -> String { keyBase + "job:" + id }

    /// The list idle workers block on: a marker is pushed when jobs become waiting.
    public var markerKey: String { keyBase + "marker" }

    /// `traceID`: the trace of the attempt making the call, put in the events it appends.
    func run(_ script: RedisScript, _ arguments: [String], traceID: String? = nil) async throws(RedisError) -> RedisReply {
        try await client.run(script, keys: [inboxKey], arguments: commonArguments(traceID: traceID) + arguments)
    }

    private func commonArguments(traceID: String? = nil) -> [String] {
        [
            keyBase, name, actor, Self.randomSeed() + (traceID.map { ":" + $0 } ?? ""),
            String(options.eventsMaxLength), String(options.retention.milliseconds),
            String(options.deadRetention.milliseconds),
        ]
    }

    /// 32 hex digits shaped as a UUIDv4: the seed of the event ids a script makes.
    static func randomSeed() -> String { EventIDSeed.next() }


    // MARK: inbox

    /// Moves up to `max` inbox items to `worker`'s claimed list and returns them.
    public func claim(max: Int, worker: String) async throws(RedisError) -> [[UInt8]] {
        let reply = try await run(.claim, [claimedKey(worker: worker), String(max)])
        return (reply.array ?? []).compactMap { if case .bulk(let bytes) = $0 { return bytes } else { return nil } }
    }

    /// Blocks on the inbox (on `blockingClient`, a connection kept for it) until an item arrives
    /// or `timeout` passes; the item is moved to `worker`'s claimed list in the same step.
    public func waitForItem(blockingClient: RedisClient, worker: String, timeout: Duration) async throws(RedisError) -> [UInt8]? {
        let seconds = String(format: "%.3f", max(0.01, timeout.seconds))
        let reply = try await blockingClient.blockingCommand(
            ["BLMOVE", inboxKey, claimedKey(worker: worker), "LEFT", "RIGHT", seconds], wait: timeout)
        if case .bulk(let bytes) = reply { return bytes }
        return nil
    }

    /// The oldest item of `worker`'s claimed list, if any (claimed but not yet ingested).
    public func oldestClaimed(worker: String) async throws(RedisError) -> [UInt8]? {
        let reply = try await client.command(["LINDEX", claimedKey(worker: worker), "0"])
        if case .bulk(let bytes) = reply { return bytes }
        return nil
    }

    /// Turns claimed items (oldest first, in claim order) into jobs, or dead rejected jobs,
    /// removing each from the claimed list in the same step; all in one round trip.
    /// Returns per item, per job: "queued", "delayed", "duplicate" (or "dead" for a rejected item).
    @discardableResult
    public func ingest(_ items: [(item: [UInt8], decision: InboxDecision)], worker: String) async throws(RedisError) -> [[String]] {
        let claimed = claimedKey(worker: worker)
        let common = commonArguments()
        // Runs of good items go in one script call; a rejected item in a call of its own. The
        // calls run in order, so each pops its own items off the head of the claimed list.
        var calls: [(RedisScript, [String], [String])] = []
        var run: [String] = []
        var runItems = 0
        func flushRun() {
            guard runItems > 0 else { return }
            calls.append((.ingest, [inboxKey], common + [claimed, String(runItems)] + run))
            run = []
            runItems = 0
        }
        for (item, decision) in items {
            let digest = lowercaseHex(Insecure.SHA1.hash(data: item))
            switch decision {
            case .jobs(let jobs):
                run += [digest, String(jobs.count)]
                for job in jobs {
                    run += [
                        job.id, job.type, job.priority.rawValue, String(job.maxAttempts), String(job.runAtMilliseconds ?? 0),
                        String(job.timeoutSeconds), job.payload, job.metadataJSON, job.fileID ?? "", job.movieID ?? "",
                        String(job.delayMilliseconds ?? 0),
                    ]
                }
                runItems += 1
            case .ignored:
                run += [digest, "0"]
                runItems += 1
            case .rejected(let rejected):
                flushRun()
                let excerpt = String(decoding: item.prefix(65536), as: UTF8.self) + (item.count > 65536 ? "…(\(item.count) bytes)" : "")
                calls.append((.ingestInvalid, [inboxKey], common + [claimed, rejected.id, rejected.type ?? "", rejected.code, rejected.message, excerpt, rejected.metadataJSON, digest]))
            }
        }
        flushRun()
        let replies = try await client.runPipelined(calls)
        var results: [[String]] = []
        for (call, reply) in zip(calls, replies) {
            if case .error(let message) = reply { throw .server(message) }
            if call.0 == .ingestInvalid {
                results.append([reply.string ?? ""])
            } else {
                for item in reply.array ?? [] { results.append((item.array ?? []).compactMap(\.string)) }
            }
        }
        return results
    }

    /// One claimed item; see `ingest(_:worker:)`.
    @discardableResult
    public func ingest(_ decision: InboxDecision, item: [UInt8], worker: String) async throws(RedisError) -> [String] {
        try await ingest([(item: item, decision: decision)], worker: worker)[0]
    }

    /// Registers `worker`'s claimed list so that other workers can recover it if `worker` dies.
    public func registerClaimer(worker: String) async throws(RedisError) {
        try await client.command(["SADD", keyBase + "claimers", claimedKey(worker: worker)])
    }

    /// The claimed lists of every worker that registered one.
    public func claimedLists() async throws(RedisError) -> [String] {
        (try await client.command(["SMEMBERS", keyBase + "claimers"]).array ?? []).compactMap(\.string)
    }

    /// Puts a (dead) worker's claimed items back at the head of the inbox.
    public func requeueClaimed(list: String) async throws(RedisError) -> Int {
        Int(try await run(.requeueClaimed, [list]).integer ?? 0)
    }

    // MARK: running jobs

    /// Promotes due jobs, recovers expired leases, and takes up to `max` waiting jobs.
    public func fetch(max: Int) async throws(RedisError) -> FetchResult {
        let reply = try await run(.fetch, [String(options.lease.milliseconds), String(max), String(options.maxStalls)])
        guard let items = reply.array else { throw .unexpectedReply("fetch answered \(reply)") }
        return try parseFetch(items.map { $0.string ?? "" }[...])
    }

    /// A fetch reply: next_wake_ms, more_waiting, then 13 fields per job.
    private func parseFetch(_ strings: ArraySlice<String>) throws(RedisError) -> FetchResult {
        guard strings.count >= 2 else { throw .unexpectedReply("a fetch reply is too short") }
        let strings = Array(strings)
        let wake = Int64(strings[0]) ?? -1
        var deliveries: [Delivery] = []
        var index = 2
        while index + 13 <= strings.count {
            let f = Array(strings[index..<index + 13])
            deliveries.append(Delivery(
                queue: name, id: f[0], token: f[1], attempt: Int(f[2]) ?? 1, maxAttempts: Int(f[3]) ?? 1, type: f[4],
                payload: f[5], metadataJSON: f[6].isEmpty ? "{}" : f[6], timeoutSeconds: Int(f[7]) ?? 0,
                fileID: f[8].isEmpty ? nil : f[8], movieID: f[9].isEmpty ? nil : f[9],
                metaMovieID: f[10].isEmpty ? nil : f[10], createdAtMilliseconds: Int64(f[11]) ?? 0, stage: f[12].isEmpty ? nil : f[12]))
            index += 13
        }
        return FetchResult(deliveries: deliveries, moreWaiting: strings[1] == "1", nextWake: wake >= 0 ? .milliseconds(wake) : nil)
    }

    /// Extends the leases of running jobs; one status per delivery, in order.
    public func heartbeat(_ deliveries: [(id: String, token: String)]) async throws(RedisError) -> [LeaseStatus] {
        guard !deliveries.isEmpty else { return [] }
        let reply = try await run(.heartbeat, [String(options.lease.milliseconds)] + deliveries.flatMap { [$0.id, $0.token] })
        return (reply.array ?? []).map { LeaseStatus(rawValue: Int($0.integer ?? 0)) ?? .lost }
    }

    /// Records progress (JSON object) and appends JobProgress. False: the lease is lost.
    public func progress(id: String, token: String, json: String, traceID: String? = nil) async throws(RedisError) -> Bool {
        try await run(.progress, [id, token, json], traceID: traceID).integer == 1
    }

    /// Records what the job learned of its input (`file_id`, `meta_movie_id`) for its later events.
    public func annotate(id: String, token: String, fields: [String: String]) async throws(RedisError) -> Bool {
        try await run(.annotate, [id, token] + fields.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }).integer == 1
    }

    /// Completes the job and appends its terminal event with `dataJSON`. False: stale token, nothing changed.
    public func complete(id: String, token: String, dataJSON: String, publication: Publication? = nil) async throws(RedisError) -> Bool {
        try await complete(id: id, token: token, dataJSON: dataJSON, publication: publication, thenFetch: 0).accepted
    }

    /// Completes the job (publishing its output version and appending its per-asset events, see
    /// `Publication`) and, in the same round trip, takes up to `thenFetch` next jobs. Jobs of this
    /// queue that end at about the same time share one call (`CompletionGroup`).
    public func complete(
        id: String, token: String, dataJSON: String, publication: Publication? = nil, thenFetch: Int, traceID: String? = nil
    ) async throws(RedisError) -> (accepted: Bool, next: FetchResult?) {
        let report = CompletionGroup.Report(id: id, token: token, outcome: "completed", dataJSON: dataJSON, traceID: traceID,
                                            publication: publication, fetch: thenFetch)
        let answer = try await completions.report(report) { (group) throws(RedisError) in try await finishGroup(group) }
        return (answer.accepted, answer.next)
    }

    /// Ends a job whose cancellation its worker has seen. False: stale token.
    public func acknowledgeCancel(id: String, token: String, dataJSON: String = "{}", traceID: String? = nil) async throws(RedisError) -> Bool {
        let report = CompletionGroup.Report(id: id, token: token, outcome: "canceled", dataJSON: dataJSON, traceID: traceID,
                                            publication: nil, fetch: 0)
        return try await completions.report(report) { (group) throws(RedisError) in try await finishGroup(group) }.accepted
    }

    /// One `finish` call for a group of reports: each report's answer, in order. The jobs
    /// fetched are handed to the reports that asked for one, in order (the script takes none
    /// for a report it answers with an error, so none is left over).
    func finishGroup(_ group: [CompletionGroup.Report]) async throws(RedisError) -> [Result<CompletionGroup.Answer, RedisError>] {
        var arguments = [String(group.count), String(options.lease.milliseconds), String(options.maxStalls)]
        for report in group {
            let publication = report.publication
            arguments += [report.id, report.token, report.outcome, report.dataJSON, report.traceID ?? "", String(report.fetch),
                          publication?.version ?? "", String(publication?.grace.milliseconds ?? 0), String(publication?.assets.count ?? 0)]
            for asset in publication?.assets ?? [] { arguments += [asset.type, asset.dataJSON] }
        }
        let reply = try await run(.finish, arguments)
        guard let items = reply.array, items.count >= group.count else { throw .unexpectedReply("finish answered \(reply)") }
        // The fetch reply follows when any lane asked (and its job was not answered with an error).
        var fetched = items.count > group.count ? try parseFetch(items.dropFirst(group.count).map { $0.string ?? "" }[...]) : nil
        // One WAIT for the group, before any report of it is answered (and before the next
        // group is sent: reports ending meanwhile join that one, however long the WAIT takes).
        if items.prefix(group.count).contains(where: { $0.integer == 1 }) { await waitForReplicas() }
        var answers: [Result<CompletionGroup.Answer, RedisError>] = []
        for (index, report) in group.enumerated() {
            let item = items[index]
            if item.integer == nil, let message = item.string {
                answers.append(.failure(.server(message)))
                continue
            }
            var next: FetchResult?
            if report.fetch > 0, let all = fetched {
                let count = min(report.fetch, all.deliveries.count)
                next = FetchResult(deliveries: Array(all.deliveries.prefix(count)), moreWaiting: all.moreWaiting, nextWake: all.nextWake)
                fetched?.deliveries.removeFirst(count)
            }
            answers.append(.success(CompletionGroup.Answer(accepted: item.integer == 1, next: next)))
        }
        return answers
    }

    /// After a terminal transition: `WAIT` for `options.waitReplicas` replicas on the connection
    /// that made it. Fewer in time is counted (`mw_redis_wait_short_total`), not an error: the
    /// transition happened, and what a failover can lose is said in docs/operations.md.
    private func waitForReplicas() async {
        guard options.waitReplicas > 0 else { return }
        let acknowledged = await client.waitForReplicas(options.waitReplicas, timeout: options.waitTimeout, near: inboxKey)
        if acknowledged < options.waitReplicas { Self.shortWaits.increment() }
    }

    static let shortWaits = Counter(label: "mw_redis_wait_short_total")

    /// Records a failed attempt: retry after `retryDelay` if `retryable` and attempts remain, else dead.
    public func fail(
        id: String, token: String, code: String, message: String, retryable: Bool, retryDelay: Duration
    ) async throws(RedisError) -> FailOutcome {
        try await fail(id: id, token: token, code: code, message: message, retryable: retryable, retryDelay: retryDelay, thenFetch: 0).outcome
    }

    /// `fail`, then up to `thenFetch` next jobs in the same round trip.
    public func fail(
        id: String, token: String, code: String, message: String, retryable: Bool, retryDelay: Duration, thenFetch: Int,
        traceID: String? = nil
    ) async throws(RedisError) -> (outcome: FailOutcome, next: FetchResult?) {
        let reply = try await run(.fail, [id, token, code, message, retryable ? "1" : "0", String(retryDelay.milliseconds)] + fetchArguments(thenFetch),
                                  traceID: traceID)
        let parts = (reply.array ?? []).map { $0.string ?? "" }
        let outcome: FailOutcome
        switch parts.first {
        case "retry": outcome = .retryScheduled(atMilliseconds: Int64(parts.count > 1 ? parts[1] : "") ?? 0)
        case "dead": outcome = .dead
        case "canceled": outcome = .canceled
        default: outcome = .stale
        }
        if outcome == .dead || outcome == .canceled { await waitForReplicas() }
        return (outcome, thenFetch > 0 ? try parseFetch(parts.dropFirst(2)) : nil)
    }

    private func fetchArguments(_ count: Int) -> [String] {
        count > 0 ? [String(count), String(options.lease.milliseconds), String(options.maxStalls)] : []
    }

    /// Hands a running job back to the front of waiting at once (shutdown). False: stale token.
    public func release(id: String, token: String) async throws(RedisError) -> Bool {
        try await run(.release, [id, token]).integer == 1
    }

    // MARK: operators

    public func cancel(id: String) async throws(RedisError) -> CancelOutcome {
        let answer = try await run(.cancel, [id]).string ?? ""
        guard let outcome = CancelOutcome(rawValue: answer) else { throw .unexpectedReply("cancel answered '\(answer)'") }
        if outcome == .canceled { await waitForReplicas() }
        return outcome
    }

    public func record(id: String) async throws(RedisError) -> JobRecord? {
        let replies = try await client.pipeline([["HGETALL", jobKey(id)], ["ZSCORE", keyBase + "active", id]])
        let items = (replies[0].array ?? []).map { $0.string ?? "" }
        guard !items.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { fields[items[index]] = items[index + 1] }
        return JobRecord(stored: fields, id: id, queue: name, leaseUntil: replies[1].string)
    }

    /// Dead jobs, newest first.
    public func deadJobs(limit: Int = 100) async throws(RedisError) -> [JobRecord] {
        let ids = (try await client.command(["ZREVRANGE", keyBase + "dead", "0", String(max(0, limit - 1))]).array ?? []).compactMap(\.string)
        var records: [JobRecord] = []
        for id in ids { if let record = try await record(id: id) { records.append(record) } }
        return records
    }

    public func deadJobIDs() async throws(RedisError) -> [String] {
        (try await client.command(["ZRANGE", keyBase + "dead", "0", "-1"]).array ?? []).compactMap(\.string)
    }

    /// A dead job back to waiting with fresh attempts. False: not dead, or an invalid payload.
    public func retryDead(id: String) async throws(RedisError) -> Bool {
        try await run(.deadRetry, [id]).integer == 1
    }

    /// Deletes every dead job; returns how many.
    public func purgeDead() async throws(RedisError) -> Int {
        var total = 0
        while true {
            let deleted = Int(try await run(.deadPurge, ["1000"]).integer ?? 0)
            total += deleted
            if deleted == 0 { return total }
        }
    }

    public func counts() async throws(RedisError) -> QueueCounts {
        let replies = try await client.pipeline([
            ["LLEN", inboxKey], ["LLEN", keyBase + "wait:high"], ["LLEN", keyBase + "wait:normal"], ["LLEN", keyBase + "wait:low"],
            ["ZCARD", keyBase + "scheduled"], ["ZCARD", keyBase + "active"], ["ZCARD", keyBase + "completed"],
            ["ZCARD", keyBase + "dead"], ["ZCARD", keyBase + "canceled"],
            ["ZCARD", keyBase + "wait:high:graph"], ["ZCARD", keyBase + "wait:normal:graph"], ["ZCARD", keyBase + "wait:low:graph"],
        ])
        let n = replies.map { Int($0.integer ?? 0) }
        return QueueCounts(inbox: n[0], waiting: n[1] + n[2] + n[3] + n[9] + n[10] + n[11], scheduled: n[4], active: n[5],
                           completed: n[6], dead: n[7], canceled: n[8])
    }

    // MARK: split jobs

    /// Splits a running job into parts (see `Lua/include/graph.lua`): they are created waiting and the job
    /// waits for them without a slot. Refused, changing nothing, for a stale token or when a
    /// part's id is taken already (never overwritten: that job would be lost).
    public func fanOut(id: String, token: String, eventJSON: String, parts: [JobPart], traceID: String? = nil) async throws(RedisError) -> FanOutOutcome {
        var arguments = [id, token, eventJSON, String(parts.count)]
        for part in parts { arguments += [part.id, part.type, String(part.work.milliseconds), part.payload, part.asset] }
        do {
            return try await run(.fanOut, arguments, traceID: traceID).integer == 1 ? .accepted : .stale
        } catch .server(let message) where message.contains("PART_EXISTS") {
            return .partExists(message.components(separatedBy: "PART_EXISTS ").last ?? "")
        }
    }

    /// What a split job recorded when it split (its `TranscodeSplit` event data).
    public func splitRecord(of id: String) async throws(RedisError) -> String? {
        try await client.command(["HGET", jobKey(id), "split"]).string
    }

    /// A split job's parts: their states, workers, attempts and stored results, in order.
    public func parts(of id: String) async throws(RedisError) -> [PartRecord] {
        let fields = (try await run(.partResults, [id]).array ?? []).map { $0.string ?? "" }
        return stride(from: 0, to: fields.count - 5, by: 6).map { index in
            PartRecord(id: fields[index], state: JobState(rawValue: fields[index + 1]), worker: fields[index + 2],
                       attempts: Int(fields[index + 3]) ?? 0, asset: fields[index + 4], resultJSON: fields[index + 5])
        }
    }

    // MARK: output versions

    /// Records the version a delivery will write before it uploads anything. False: stale token.
    public func openVersion(id: String, token: String, version: OutputVersionRecord) async throws(RedisError) -> Bool {
        try await run(.versionOpen, [id, token, version.id, version.url, version.slot, version.stableMaster ?? ""]).integer == 1
    }

    /// Asks for the right to write the stable names of the delivery's version.
    public func beginPublishing(id: String, token: String) async throws(RedisError) -> PublishPermission {
        let answer = try await run(.publishBegin, [id, token, String(options.lease.milliseconds)]).string ?? ""
        guard let permission = PublishPermission(rawValue: answer) else { throw .unexpectedReply("publish_begin answered '\(answer)'") }
        return permission
    }

    /// Takes the slot's publication right to repair its stable names (see `slotLock`); nil while
    /// a publisher or another repair holds it. The current version is read under the right.
    public func lockSlot(_ slot: String, holder: String, lease: Duration) async throws(RedisError) -> SlotLock? {
        let fields = (try await run(.slotLock, [slot, holder, String(lease.milliseconds)]).array ?? []).map { $0.string ?? "" }
        guard fields.first == "ok", fields.count == 4 else { return nil }
        return SlotLock(slot: slot, holder: holder, currentVersion: fields[1].isEmpty ? nil : fields[1],
                        currentURL: fields[2].isEmpty ? nil : fields[2])
    }

    /// Gives a slot's right back. False: it had passed to another holder (the lease ran out).
    @discardableResult
    public func unlockSlot(_ lock: SlotLock) async throws(RedisError) -> Bool {
        try await run(.slotUnlock, [lock.slot, lock.holder]).integer == 1
    }

    /// The published version of a slot, if any.
    public func currentVersion(slot: String) async throws(RedisError) -> (id: String, url: String, stableMaster: String)? {
        let fields = (try await run(.slotCurrent, [slot]).array ?? []).map { $0.string ?? "" }
        guard fields.count == 3, !fields[0].isEmpty else { return nil }
        return (fields[0], fields[1], fields[2])
    }

    /// Takes up to `max` due trash versions, each held for `lease` while it is deleted; says
    /// when the next one left is due.
    public func takeTrash(max: Int, lease: Duration) async throws(RedisError) -> (versions: [TrashedVersion], nextDue: Duration?) {
        let all = (try await run(.janitorTake, [String(max), String(lease.milliseconds)]).array ?? []).map { $0.string ?? "" }
        guard let first = all.first else { throw .unexpectedReply("janitor_take answered nothing") }
        let wait = Int64(Double(first) ?? -1)
        let fields = Array(all.dropFirst())
        let versions = stride(from: 0, to: fields.count - 5, by: 6).map { index in
            TrashedVersion(id: fields[index], url: fields[index + 1], stableMaster: fields[index + 2].isEmpty ? nil : fields[index + 2],
                           currentVersion: fields[index + 3].isEmpty ? nil : fields[index + 3],
                           currentURL: fields[index + 4].isEmpty ? nil : fields[index + 4], slot: fields[index + 5])
        }
        return (versions, wait >= 0 ? .milliseconds(wait) : nil)
    }

    /// The trashed version is gone from storage.
    @discardableResult
    public func trashDeleted(version: String) async throws(RedisError) -> Bool {
        try await run(.janitorDone, [version]).integer == 1
    }

    /// Deleting it failed: due again after `base` × 2^(failures − 1), at most `cap`. Returns how many times it has failed.
    @discardableResult
    public func trashFailed(version: String, base: Duration, cap: Duration, error: String) async throws(RedisError) -> Int {
        Int(try await run(.janitorLater, [version, String(base.milliseconds), String(cap.milliseconds), error]).integer ?? 0)
    }

    /// Counters kept by the scripts: duplicates, invalid, retries, stalls_recovered, versions_deleted.
    public func statistics() async throws(RedisError) -> [String: Int] {
        let items = (try await client.command(["HGETALL", keyBase + "stats"]).array ?? []).map { $0.string ?? "" }
        var stats: [String: Int] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) { stats[items[index]] = Int(items[index + 1]) ?? 0 }
        return stats
    }
}
