import ArgumentParser
import Foundation
import JobContract
import QueueClient
import RedisClient

/// Options shared by the operator commands: which queue, on which Redis (from MW_REDIS_URL).
struct QueueSelection: ParsableArguments {
    @Option(name: .shortAndLong, help: "The queue (default: the first of MW_QUEUES, else 'default').")
    var queue: String?

    func open() throws -> (JobQueue, WorkerConfiguration) {
        let configuration = try WorkerConfiguration.forCommand()
        let name = queue ?? configuration.queues[0]
        let client = RedisClient(url: configuration.redisURL)
        return (JobQueue(name: name, options: configuration.queueOptions, client: client, actor: "cli"), configuration)
    }
}

/// Prints a Redis failure as one line and exits 1.
func failOnRedis<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RedisError {
        printError("error \(error)")
        throw ExitCode(1)
    }
}

func printJSON(_ value: JSONValue) {
    writeLine(value.jsonText)
}

/// One line on standard output, written at once (unbuffered: `events --follow` is read live).
func writeLine(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(0x0A)
    bytes.withUnsafeBytes { buffer in _ = write(1, buffer.baseAddress, buffer.count) }
}

extension JobRecord {
    /// The record as JSON, with the stored JSON fields (payload, metadata, history, result, progress) inlined.
    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        for (name, value) in fields {
            if ["payload", "metadata", "history", "result", "progress", "children", "split"].contains(name),
               let parsed = try? JSONValue.parse(value) {
                object[name] = parsed
            } else if ["attempts", "max_attempts", "stalls", "timeout_s"].contains(name), let number = Double(value) {
                object[name] = .double(number)
            } else if ["created_at", "started_at", "finished_at", "run_at", "lease_until"].contains(name), let ms = Double(value), ms > 0 {
                object[name] = .string(Date(timeIntervalSince1970: ms / 1000).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            } else if name != "token", name != "event_ids", name != "cancel" || value == "1" {
                object[name] = .string(value)
            }
        }
        return .object(object)
    }
}
