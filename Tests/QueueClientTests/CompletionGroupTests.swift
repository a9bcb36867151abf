import Foundation
@testable import QueueClient
import RedisClient
import Synchronization
import TestSupport
import Testing

/// Ends of jobs reported at about the same time share one `finish` call (`CompletionGroup`):
/// the grouping itself, then what one call for several jobs does in Redis.
@Suite("Completions reported together")
struct CompletionGroupTests {
    let base = JobQueueTests()

    /// Holds each `send` until the test lets it go, and says how many are held.
    actor Turnstile {
        private var held: [CheckedContinuation<Void, Never>] = []
        var count: Int { held.count }
        func pass() async { await withCheckedContinuation { held.append($0) } }
        func releaseOne() { if !held.isEmpty { held.removeFirst().resume() } }
        func releaseAll() {
            for waiter in held { waiter.resume() }
            held = []
        }
    }

    /// Waits (bounded) for a condition the tasks under test reach by themselves.
    func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        for _ in 0..<20_000 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("never happened: \(what)")
        throw CancellationError()
    }

    func report(_ id: String) -> CompletionGroup.Report {
        CompletionGroup.Report(id: id, token: "1", outcome: "completed", dataJSON: "{}", traceID: nil, publication: nil, fetch: 1)
    }

    @Test("by default one call is out: every report made meanwhile rides in the next, and the group is bounded")
    func oneCallOut() async throws {
        let group = CompletionGroup(maxInFlight: 1, maxGroup: 4)
        #expect(CompletionGroup().maxInFlight == 1)
        let turnstile = Turnstile()
        let calls = Mutex<[[String]]>([])
        let send: @Sendable ([CompletionGroup.Report]) async throws(RedisError) -> [Result<CompletionGroup.Answer, RedisError>] = { reports in
            let index = calls.withLock { calls in calls.append(reports.map(\.id)); return calls.count }
            if index == 1 { await turnstile.pass() }
            return reports.map { .success(CompletionGroup.Answer(accepted: $0.id != "stale", next: nil)) }
        }
        try await withThrowingTaskGroup(of: (String, Bool).self) { tasks in
            tasks.addTask { ("first", try await group.report(report("first"), send: send).accepted) }
            try await eventually("one call out") { await turnstile.count == 1 }
            let riders = ["r1", "r2", "stale", "r4", "r5"]
            for id in riders {
                tasks.addTask { (id, try await group.report(report(id), send: send).accepted) }
            }
            try await eventually("five reports waiting") { group.waitingCount == 5 }
            #expect(calls.withLock { $0.count } == 1, "nothing more is sent while a call is out")
            await turnstile.releaseAll()
            var answered: [String: Bool] = [:]
            for try await (id, accepted) in tasks { answered[id] = accepted }
            #expect(answered == ["first": true, "r1": true, "r2": true, "stale": false, "r4": true, "r5": true])
            let sent = calls.withLock { $0 }
            // Four at most per call: the fifth waiting report leads a call of its own.
            #expect(sent.count == 3, "\(sent)")
            #expect(sent.dropFirst().map(\.count) == [4, 1], "\(sent)")
            #expect(Set(sent.dropFirst().flatMap { $0 }) == Set(riders))
        }
    }

    @Test("reports made while two calls are out go together in the next call, each answered in order")
    func reportsRideTogether() async throws {
        let group = CompletionGroup(maxInFlight: 2)
        let turnstile = Turnstile()
        let calls = Mutex<[[String]]>([])
        // The answer names the report it answers: a mix-up of the order shows.
        let send: @Sendable ([CompletionGroup.Report]) async throws(RedisError) -> [Result<CompletionGroup.Answer, RedisError>] = { reports in
            calls.withLock { $0.append(reports.map(\.id)) }
            await turnstile.pass()
            return reports.map { report in
                .success(CompletionGroup.Answer(accepted: !report.id.hasPrefix("stale"), next: FetchResult(
                    deliveries: [], moreWaiting: false, nextWake: .milliseconds(Int64(report.id.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff)))))
            }
        }
        func expected(_ id: String) -> Duration { .milliseconds(Int64(id.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff)) }
        try await withThrowingTaskGroup(of: (String, Bool, Duration?).self) { tasks in
            for id in ["a", "b"] {
                tasks.addTask { let answer = try await group.report(report(id), send: send); return (id, answer.accepted, answer.next?.nextWake) }
            }
            try await eventually("two calls out") { await turnstile.count == 2 }
            let riders = ["c", "d", "stale-e", "f", "g"]
            for id in riders {
                tasks.addTask { let answer = try await group.report(report(id), send: send); return (id, answer.accepted, answer.next?.nextWake) }
            }
            try await eventually("five reports waiting") { group.waitingCount == 5 }
            #expect(calls.withLock { $0.count } == 2, "nothing more is sent while two calls are out")
            await turnstile.releaseOne()
            // The returned call's first waiting report leads the rest: one call, held beside the other.
            try await eventually("the next group sent") {
                let held = await turnstile.count
                return calls.withLock { $0.count } == 3 && held == 2
            }
            await turnstile.releaseAll()
            var answered: [String: (Bool, Duration?)] = [:]
            for try await (id, accepted, wake) in tasks { answered[id] = (accepted, wake) }
            #expect(answered.count == 7)
            for (id, answer) in answered {
                #expect(answer.0 == !id.hasPrefix("stale"), "\(id)")
                #expect(answer.1 == expected(id), "\(id) got another report's answer")
            }
            let sent = calls.withLock { $0 }
            #expect(sent.count == 3)
            #expect(Set(sent[0] + sent[1]) == ["a", "b"])
            #expect(Set(sent[2]) == Set(riders), "the five waiting reports went in one call: \(sent)")
            #expect(group.waitingCount == 0)
        }
    }

    @Test("a call that fails fails the reports in it, and the next group is still sent")
    func failureStaysInItsGroup() async throws {
        let group = CompletionGroup(maxInFlight: 2)
        let turnstile = Turnstile()
        let calls = Mutex(0)
        // The first two calls are held until the test lets them go; later ones pass.
        let send: @Sendable ([CompletionGroup.Report]) async throws(RedisError) -> [Result<CompletionGroup.Answer, RedisError>] = { (reports) throws(RedisError) in
            let index = calls.withLock { count in count += 1; return count }
            if index <= 2 { await turnstile.pass() }
            if reports.contains(where: { $0.id == "broken" }) { throw RedisError.connection("lost") }
            return reports.map { _ in .success(CompletionGroup.Answer(accepted: true, next: nil)) }
        }
        try await withThrowingTaskGroup(of: (String, Bool).self) { tasks in
            for id in ["broken", "x"] {
                tasks.addTask {
                    do { return (id, try await group.report(report(id), send: send).accepted) } catch { return (id, false) }
                }
            }
            try await eventually("two calls out") { await turnstile.count == 2 }
            for id in ["y", "z"] {
                tasks.addTask {
                    do { return (id, try await group.report(report(id), send: send).accepted) } catch { return (id, false) }
                }
            }
            try await eventually("two reports waiting") { group.waitingCount == 2 }
            // One held call returns: the first waiting report leads, the other rides with it.
            await turnstile.releaseOne()
            try await eventually("the waiting pair sent") { calls.withLock { $0 } == 3 }
            await turnstile.releaseAll()
            var answered: [String: Bool] = [:]
            for try await (id, accepted) in tasks { answered[id] = accepted }
            #expect(answered == ["broken": false, "x": true, "y": true, "z": true])
            #expect(calls.withLock { $0 } == 3, "y and z went in one call")
        }
    }

    @Test("one call ending several jobs judges each alone, gives each event its own trace, and hands each next job out once")
    func oneCallForSeveralJobs() async throws {
        try await base.withQueue { queue, _ in
            for id in ["j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8", "j9"] { try await base.add(queue, base.job(id)) }
            let taken = try await queue.fetch(max: 5).deliveries
            #expect(taken.map(\.id) == ["j1", "j2", "j3", "j4", "j5"])
            let trace = String(repeating: "ab", count: 16)
            func report(_ index: Int, token: String? = nil, trace: String? = nil, version: String? = nil, fetch: Int = 1) -> CompletionGroup.Report {
                CompletionGroup.Report(id: taken[index].id, token: token ?? taken[index].token, outcome: "completed", dataJSON: #"{"n":\#(index)}"#,
                                       traceID: trace, publication: version.map { Publication(version: $0, grace: .zero) }, fetch: fetch)
            }
            let answers = try await queue.finishGroup([
                report(0, trace: trace),
                report(1, token: "999999"),
                report(2, version: "never-opened"),
                report(3, fetch: 0),
                report(4),
            ])
            #expect(answers.count == 5)
            #expect(try answers[0].get().accepted)
            #expect(try !answers[1].get().accepted, "a stale token is refused")
            #expect(throws: RedisError.self) { try answers[2].get() }
            #expect(try answers[3].get().accepted && answers[3].get().next == nil)
            #expect(try answers[4].get().accepted)
            // Three lanes asked (the refused version's takes nothing, its caller hands nothing
            // on) and four jobs were waiting: one each, in order, and the fourth stays waiting.
            let handed = try answers.compactMap { try? $0.get() }.flatMap { $0.next?.deliveries.map(\.id) ?? [] }
            #expect(handed == ["j6", "j7", "j8"])
            #expect(try answers[0].get().next?.deliveries.map(\.id) == ["j6"])
            #expect(try answers[1].get().next?.deliveries.map(\.id) == ["j7"])
            #expect(try answers[4].get().next?.deliveries.map(\.id) == ["j8"])
            #expect(try await queue.record(id: "j9")?.state == .waiting, "no job taken for a lane that gets no reply")

            for (id, state) in [("j1", JobState.completed), ("j2", .active), ("j3", .active), ("j4", .completed), ("j5", .completed)] {
                #expect(try await queue.record(id: id)?.state == state, "\(id)")
            }
            let events = try await base.events(queue)
            for id in ["j1", "j4", "j5"] {
                #expect(events.filter { $0["job_id"] as? String == id && $0["type"] as? String == "NoopCompleted" }.count == 1, "\(id)")
            }
            #expect(!events.contains { ["j2", "j3"].contains($0["job_id"] as? String ?? "") && ($0["type"] as? String ?? "").hasSuffix("Completed") })
            let completed = events.filter { ($0["type"] as? String) == "NoopCompleted" }
            #expect(completed.first { $0["job_id"] as? String == "j1" }?["trace_id"] as? String == trace)
            #expect(completed.filter { $0["job_id"] as? String != "j1" }.allSatisfy { $0["trace_id"] == nil },
                    "a job's event carries its own attempt's trace, not another's in the same call")
            let started = events.filter { ($0["type"] as? String) == "JobStarted" && ["j6", "j7", "j8"].contains($0["job_id"] as? String ?? "") }
            #expect(started.count == 3)
            #expect(started.allSatisfy { $0["trace_id"] == nil }, "a job taken next starts no trace of the jobs that ended")
            // The ended ones left the active set and entered the completed one, all in this call.
            let active = Set((try await queue.client.command(["ZRANGE", queue.keyBase + "active", "0", "-1"]).array ?? []).compactMap(\.string))
            #expect(active == ["j2", "j3", "j6", "j7", "j8"])
            let done = Set((try await queue.client.command(["ZRANGE", queue.keyBase + "completed", "0", "-1"]).array ?? []).compactMap(\.string))
            #expect(done == ["j1", "j4", "j5"])
        }
    }

    @Test("an error raised while ending one job answers that job alone: the others of the call end in full")
    func errorInOneJob() async throws {
        try await base.withQueue { queue, _ in
            for id in ["e1", "e2", "e3"] { try await base.add(queue, base.job(id)) }
            let taken = try await queue.fetch(max: 3).deliveries
            #expect(taken.count == 3)
            // e2's version record loses its slot: publishing it raises an error inside the script.
            let record = OutputVersionRecord(id: "v-e2", url: "file:///out/v-e2/", slot: "slot-e2", stableMaster: nil)
            #expect(try await queue.openVersion(id: "e2", token: taken[1].token, version: record))
            try await queue.client.command(["HDEL", queue.keyBase + "version:v-e2", "slot"])
            let answers = try await queue.finishGroup(taken.map { delivery in
                CompletionGroup.Report(id: delivery.id, token: delivery.token, outcome: "completed", dataJSON: "{}", traceID: nil,
                                       publication: delivery.id == "e2" ? Publication(version: "v-e2", grace: .zero) : nil, fetch: 0)
            })
            #expect(try answers[0].get().accepted)
            #expect(throws: RedisError.self) { try answers[1].get() }
            #expect(try answers[2].get().accepted)
            for id in ["e1", "e3"] {
                #expect(try await queue.record(id: id)?.state == .completed, "\(id)")
                #expect(try await queue.client.command(["ZSCORE", queue.keyBase + "completed", id]).string != nil, "\(id) in the completed set")
                #expect(try await queue.client.command(["ZSCORE", queue.keyBase + "active", id]).string == nil, "\(id) out of the active set")
            }
            #expect(try await queue.record(id: "e2")?.state == .active, "the job whose end failed is untouched: its lease decides")
        }
    }

    @Test("lanes ending at once through the public API: every job ends once, every next job is handed to one lane")
    func concurrentCompletions() async throws {
        try await base.withQueue { queue, _ in
            let ids = (0..<24).map { "c\($0)" }
            for id in ids { try await base.add(queue, base.job(id)) }
            let first = try await queue.fetch(max: 8).deliveries
            #expect(first.count == 8)
            // Eight lanes, each completing its job and running the one it gets back, as a worker does.
            let ran = try await withThrowingTaskGroup(of: [String].self) { lanes in
                for delivery in first {
                    lanes.addTask {
                        var current: Delivery? = delivery
                        var ran: [String] = []
                        while let job = current {
                            ran.append(job.id)
                            let (accepted, next) = try await queue.complete(id: job.id, token: job.token, dataJSON: "{}", thenFetch: 1)
                            #expect(accepted, "\(job.id)")
                            current = next?.deliveries.first
                        }
                        return ran
                    }
                }
                var all: [String] = []
                for try await lane in lanes { all += lane }
                return all
            }
            #expect(ran.sorted() == ids.sorted(), "each job ran once")
            let events = try await base.events(queue)
            for id in ids {
                #expect(events.filter { $0["job_id"] as? String == id && $0["type"] as? String == "NoopCompleted" }.count == 1, "\(id)")
            }
        }
    }
}
