import Foundation
import JobContract
import QueueClient
import RedisClient

/// A broken promise, with what the checker saw.
struct ProtocolViolation: Error, CustomStringConvertible {
    let invariant: Int
    let message: String
    var description: String { "invariant \(invariant): \(message)" }
}

/// The bucket the simulated workers write to: object keys (`<file>/v/<version>/o<n>`) and the
/// stable master of each file, as the version its URIs lead into (what `StableNames` writes).
final class ModelStorage {
    var objects: Set<String> = []
    var stable: [String: String] = [:]

    static func prefix(of url: String) -> String { String(url.dropFirst("mem://".count)) }
    static func file(of url: String) -> String { String(prefix(of: url).split(separator: "/").first ?? "") }

    func delete(prefix: String) { objects = objects.filter { !$0.hasPrefix(prefix) } }
    func hasObjects(under prefix: String) -> Bool { objects.contains { $0.hasPrefix(prefix) } }
    /// A whole version's first object: what a master pointing into it needs.
    func exists(version: String, file: String) -> Bool { objects.contains("\(file)/v/\(version)/o0") }
}

/// What a simulated delivery still has to do, one step at a time.
enum RunStep: Equatable {
    case open, upload, split, checkParts, publish, writeStable, complete, restore, fail(retryable: Bool), release
}

/// One delivery held by a simulated worker: the plan it follows and what it has done.
struct ModelRun {
    enum Kind: String { case plain, split, part }
    var delivery: Delivery
    var kind: Kind
    var file: String
    var steps: [RunStep]
    var version: String?
    var versionURL: String?
    var uploads = 0
    var wroteStable = false
    var busyAnswers = 0
    /// Held (within its lease) until its job has split anew (or ended), for at most `heldTurns`
    /// of its worker's turns: the schedule that makes a part late.
    var heldUntilResplit = false
    var heldTurns = 0
    var parentVersionURL: String?

    var slot: String { kind == .part ? "" : "slot-\(file)" }
}

/// A worker of the pool, simulated: it calls the real scripts through `JobQueue` as
/// `JobWorker`/`JobExecution` do, with a plan per delivery drawn from the schedule's seed.
final class ModelWorker {
    let name: String
    let queue: JobQueue
    var runs: [ModelRun] = []
    /// Steps left frozen (SIGSTOP past its lease); it then wakes and carries on as if nothing happened.
    var frozenFor = 0
    /// The next reply to a terminal call is lost after Redis applied it: the worker retries the call.
    var loseNextReply = false

    init(name: String, queue: JobQueue) {
        self.name = name
        self.queue = queue
    }
}

/// The janitor, simulated step by step as `OutputJanitor.clean` runs: repair the stable master
/// (under the slot's right), delete, check nothing appeared, repair again, forget.
final class ModelJanitor {
    enum Phase { case repairBefore, delete, verify, repairAfter, forget }
    var held: [(version: TrashedVersion, phase: Phase)] = []
}
