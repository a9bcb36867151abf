import Foundation
import RedisClient

/// The lists an operator pages through (the dashboard's job tables); each is one Redis structure.
public enum BrowsableState: String, Sendable, CaseIterable {
    case waiting, scheduled, active, completed, dead, canceled
}

/// One row of a job table: the fields a list shows, read with one HMGET per job.
public struct JobSummary: Sendable, Equatable {
    public static let fieldNames = [
        "id", "type", "state", "file_id", "movie_id", "meta_movie_id", "created_at", "finished_at", "attempts",
        "max_attempts", "error_code", "worker", "progress", "parent",
    ]
    public var fields: [String: String]
    public var id: String { fields["id"] ?? "" }
}

/// Reading a queue for operators: paging by state, search, events of one job, per-minute history.
/// Every read is bounded (a page, an index, one job's events), so it stays fast with 100,000 jobs.
extension JobQueue {
    /// Ids of one page of jobs in `state`, newest first for finished ones, next-to-run first for
    /// waiting and scheduled ones; and how many there are in all.
    public func page(_ state: BrowsableState, offset: Int, limit: Int) async throws(RedisError) -> (total: Int, ids: [String]) {
        let stop = String(offset + limit - 1)
        switch state {
        case .waiting:
            // Parts of split jobs first, then high, normal, low: the order fetch takes them in.
            let keys = ["high", "normal", "low"].flatMap { ["wait:\($0):graph", "wait:\($0)"] }.map { keyBase + $0 }
            let sizes = try await client.pipeline(keys.map { [$0.hasSuffix(":graph") ? "ZCARD" : "LLEN", $0] }).map { Int($0.integer ?? 0) }
            var ids: [String] = []
            var skip = offset
            for (key, size) in zip(keys, sizes) where ids.count < limit {
                if skip >= size { skip -= size; continue }
                let last = String(skip + limit - ids.count - 1)
                let command = key.hasSuffix(":graph") ? ["ZRANGE", key, String(skip), last] : ["LRANGE", key, String(skip), last]
                ids += (try await client.command(command).array ?? []).compactMap(\.string)
                skip = 0
            }
            return (sizes.reduce(0, +), ids)
        case .scheduled, .active:
            let key = keyBase + state.rawValue
            let replies = try await client.pipeline([["ZCARD", key], ["ZRANGE", key, String(offset), stop]])
            return (Int(replies[0].integer ?? 0), (replies[1].array ?? []).compactMap(\.string))
        case .completed, .dead, .canceled:
            let key = keyBase + state.rawValue
            let replies = try await client.pipeline([["ZCARD", key], ["ZREVRANGE", key, String(offset), stop]])
            return (Int(replies[0].integer ?? 0), (replies[1].array ?? []).compactMap(\.string))
        }
    }

    /// The table rows of these jobs; ids whose record has expired are left out.
    public func summaries(_ ids: [String]) async throws(RedisError) -> [JobSummary] {
        guard !ids.isEmpty else { return [] }
        let replies = try await client.pipeline(ids.map { ["HMGET", jobKey($0)] + JobSummary.fieldNames })
        return zip(ids, replies).compactMap { id, reply in
            let values = (reply.array ?? []).map(\.string)
            var fields: [String: String] = [:]
            for (name, value) in zip(JobSummary.fieldNames, values) { if let value { fields[name] = value } }
            // Every record has a state; a new job's hash has no `id` field (its key names it).
            guard fields["state"] != nil else { return nil }
            fields["id"] = fields["id"] ?? id
            for name in JobSummary.fieldNames where fields[name] == nil { fields[name] = JobRecord.defaults[name] }
            return JobSummary(fields: fields)
        }
    }

    /// Jobs matching a job id exactly, a `file_id` or a movie id (given or read from the
    /// object's metadata), newest first, at most `limit`.
    public func search(_ term: String, limit: Int = 100) async throws(RedisError) -> [String] {
        let term = term.trimmingCharacters(in: .whitespaces)
        guard !term.isEmpty else { return [] }
        let replies = try await client.pipeline([
            ["EXISTS", jobKey(term)],
            ["ZREVRANGE", keyBase + "by:file:" + term, "0", String(limit - 1)],
            ["ZREVRANGE", keyBase + "by:movie:" + term, "0", String(limit - 1)],
        ])
        var ids: [String] = replies[0].integer == 1 ? [term] : []
        for reply in replies.dropFirst() {
            for id in (reply.array ?? []).compactMap(\.string) where !ids.contains(id) { ids.append(id) }
        }
        return Array(ids.prefix(limit))
    }

    /// A job's events in order, from the stream ids its record keeps; events trimmed from the
    /// stream since are left out.
    public func events(of id: String) async throws(RedisError) -> [(streamID: String, json: String)] {
        let list = try await client.command(["HGET", jobKey(id), "event_ids"]).string ?? ""
        let streamIDs = list.split(separator: ",").map(String.init)
        guard !streamIDs.isEmpty else { return [] }
        let replies = try await client.pipeline(streamIDs.map { ["XRANGE", eventsKey, $0, $0] })
        return zip(streamIDs, replies).compactMap { streamID, reply in
            guard let entry = reply.array?.first, let json = Self.eventJSON(of: entry) else { return nil }
            return (streamID, json)
        }
    }

    /// Events after a stream id (`0`: from the start), oldest first, at most `count`.
    public func events(after streamID: String, count: Int) async throws(RedisError) -> [(streamID: String, json: String)] {
        // Nothing comes after the largest id there can be (and Redis refuses an interval from it).
        if streamID == "18446744073709551615-18446744073709551615" { return [] }
        let reply = try await client.command(["XRANGE", eventsKey, "(" + streamID, "+", "COUNT", String(count)])
        return (reply.array ?? []).compactMap { entry in
            guard let id = entry.array?.first?.string, let json = Self.eventJSON(of: entry) else { return nil }
            return (id, json)
        }
    }

    /// The newest `count` events, oldest first.
    public func latestEvents(count: Int) async throws(RedisError) -> [(streamID: String, json: String)] {
        let reply = try await client.command(["XREVRANGE", eventsKey, "+", "-", "COUNT", String(count)])
        return (reply.array ?? []).reversed().compactMap { entry in
            guard let id = entry.array?.first?.string, let json = Self.eventJSON(of: entry) else { return nil }
            return (id, json)
        }
    }

    /// The `event` field of one stream entry (`[id, [field, value, …]]`).
    static func eventJSON(of entry: RedisReply) -> String? {
        guard let parts = entry.array, parts.count == 2 else { return nil }
        let fields = (parts[1].array ?? []).map { $0.string ?? "" }
        guard let index = fields.firstIndex(of: "event"), index + 1 < fields.count else { return nil }
        return fields[index + 1]
    }

    /// Per-minute counts of finished jobs (`completed`, `dead`, `canceled`) and retried attempts
    /// (`retried`) for the minutes `from..<to` (minutes since 1970), as `[minute: [what: count]]`.
    public func minuteCounts(from: Int, to: Int) async throws(RedisError) -> [Int: [String: Int]] {
        guard to > from else { return [:] }
        let days = Array(Set((from..<to).map { $0 / 1440 })).sorted()
        let replies = try await client.pipeline(days.map { ["HGETALL", keyBase + "minutes:\($0)"] })
        var counts: [Int: [String: Int]] = [:]
        for reply in replies {
            let items = (reply.array ?? []).map { $0.string ?? "" }
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                let name = items[index].split(separator: ":")
                guard name.count == 2, let minute = Int(name[0]), (from..<to).contains(minute) else { continue }
                counts[minute, default: [:]][String(name[1])] = Int(items[index + 1]) ?? 0
            }
        }
        return counts
    }

    /// Deletes one dead job (its record and its place in the dead list). False: it is not dead.
    public func deleteDead(id: String) async throws(RedisError) -> Bool {
        try await run(.deadDelete, [id]).integer == 1
    }
}
