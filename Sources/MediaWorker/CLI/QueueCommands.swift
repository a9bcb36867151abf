import ArgumentParser
import Foundation
import JobContract
import QueueClient
import RedisClient

/// `media-worker enqueue`: validates a job envelope and pushes it onto a queue's inbox,
/// exactly as any producer would with one RPUSH. Prints the job id.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Push a job (JSON) onto a queue's inbox.")

    @OptionGroup var selection: QueueSelection
    @Argument(help: "The job JSON, or - to read it from standard input.")
    var job: String = "-"

    func run() async throws {
        let (queue, configuration) = try selection.open()
        let text = job == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : job
        switch JobDecoder(defaultOutputURL: configuration.defaultOutputURL).decide(Array(text.utf8)) {
        case .rejected(let rejected):
            printError("error \(rejected.code): \(rejected.message)")
            throw ExitCode(1)
        case .ignored:
            printError("error JOB_INVALID_NOTIFICATION: the notification has no object-created record")
            throw ExitCode(1)
        case .jobs(let jobs):
            try await failOnRedis {
                for job in jobs {
                    try await queue.client.command(["RPUSH", queue.inboxKey, job.payload])
                    print(job.id)
                }
            }
        }
    }
}

/// `media-worker status <id>`: the job's stored record, or the queue's counts without an id.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a job's state and history, or the queue's counts.")

    @OptionGroup var selection: QueueSelection
    @Argument(help: "A job id; without it, the number of jobs in each state.")
    var id: String?

    func run() async throws {
        let (queue, _) = try selection.open()
        try await failOnRedis {
            guard let id else {
                let counts = try await queue.counts()
                let stats = try await queue.statistics()
                var object: [String: JSONValue] = [
                    "queue": .string(queue.name), "inbox": .integer(counts.inbox), "waiting": .integer(counts.waiting),
                    "scheduled": .integer(counts.scheduled), "active": .integer(counts.active),
                    "completed": .integer(counts.completed), "dead": .integer(counts.dead),
                    "canceled": .integer(counts.canceled),
                ]
                for (name, value) in stats { object[name] = .integer(value) }
                printJSON(.object(object))
                return
            }
            guard let record = try await queue.record(id: id) else {
                printError("error JOB_NOT_FOUND: no job '\(id)' in queue '\(queue.name)' (finished jobs expire after their retention)")
                throw ExitCode(1)
            }
            var shown = record.json.objectValue ?? [:]
            // A split job: its parts with their states and workers, instead of their raw list.
            if record.fields["children"] != nil {
                shown["children"] = nil
                shown["split"] = nil
                shown["parts"] = .array(try await queue.parts(of: id).map { part in
                    .object(["id": .string(part.id), "asset_id": .string(part.asset), "state": .string(part.state?.rawValue ?? "expired"),
                             "worker_id": .string(part.worker), "attempts": .integer(part.attempts)])
                })
            }
            printJSON(.object(shown))
        }
    }
}

/// `media-worker cancel <id>`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a job: waiting or delayed ones at once, a running one within a second.")

    @OptionGroup var selection: QueueSelection
    @Argument var id: String

    func run() async throws {
        let (queue, _) = try selection.open()
        let outcome = try await failOnRedis { try await queue.cancel(id: id) }
        print(outcome.rawValue)
        if outcome == .notFound { throw ExitCode(1) }
    }
}

/// `media-worker dead list | retry <id> | retry --all | purge`.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead", abstract: "Dead-letter jobs: list, retry, purge.",
        subcommands: [List.self, Retry.self, Purge.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead jobs, newest first, one JSON object per line.")
        @OptionGroup var selection: QueueSelection
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let (queue, _) = try selection.open()
            for record in try await failOnRedis({ try await queue.deadJobs(limit: limit) }) {
                let json = record.json
                var summary: [String: JSONValue] = [:]
                for key in ["id", "type", "error_code", "error_message", "attempts", "finished_at", "history", "payload"] {
                    summary[key] = json[key]
                }
                printJSON(.object(summary))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put dead jobs back to waiting with fresh attempts.")
        @OptionGroup var selection: QueueSelection
        @Argument(help: "The job id.") var id: String?
        @Flag(help: "Every dead job.") var all = false

        func run() async throws {
            guard (id != nil) != all else { throw ValidationError("give a job id or --all") }
            let (queue, _) = try selection.open()
            let ids: [String]
            if let id { ids = [id] } else { ids = try await failOnRedis { try await queue.deadJobIDs() } }
            var retried = 0
            for id in ids {
                if try await failOnRedis({ try await queue.retryDead(id: id) }) {
                    retried += 1
                } else {
                    printError("not retried: \(id) (not dead, or its payload was invalid)")
                }
            }
            print("retried \(retried)")
            if retried < ids.count && !all { throw ExitCode(1) }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead job.")
        @OptionGroup var selection: QueueSelection

        func run() async throws {
            let (queue, _) = try selection.open()
            print("purged \(try await failOnRedis { try await queue.purgeDead() })")
        }
    }
}

/// `media-worker workers`: the live workers, one JSON object per line.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List live workers.")
    @OptionGroup var selection: QueueSelection

    func run() async throws {
        let (queue, configuration) = try selection.open()
        let registry = WorkerRegistry(prefix: configuration.queuePrefix, client: queue.client)
        for entry in try await failOnRedis({ try await registry.list() }) {
            printJSON(.object(entry.fields.mapValues { .string($0) }))
        }
    }
}

/// `media-worker events [--follow]`: the queue's event stream, one event JSON per line.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print a queue's events (JSON lines).")
    @OptionGroup var selection: QueueSelection
    @Flag(name: .shortAndLong, help: "Keep waiting for new events.") var follow = false
    @Option(help: "Start after this stream id; default: the beginning (or now, with --follow).") var after: String?

    func run() async throws {
        let (queue, _) = try selection.open()
        var last = after ?? (follow ? "$" : "0")
        try await failOnRedis {
            repeat {
                let reply = try await queue.client.blockingCommand(
                    ["XREAD", "COUNT", "500"] + (follow ? ["BLOCK", "2000"] : []) + ["STREAMS", queue.eventsKey, last], wait: .seconds(2))
                let entries = reply.array?.first?.array?.last?.array ?? []
                for entry in entries {
                    guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
                    last = id
                    let fields = (parts[1].array ?? []).map { $0.string ?? "" }
                    if let index = fields.firstIndex(of: "event"), index + 1 < fields.count { writeLine(fields[index + 1]) }
                }
                if !follow && entries.isEmpty { break }
            } while true
        }
    }
}
