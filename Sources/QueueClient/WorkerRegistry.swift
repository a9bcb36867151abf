import Foundation
import RedisClient

/// Live workers, each a hash `<prefix>:worker:<id>` with a TTL, refreshed while the worker
/// lives, and listed through a sorted set `<prefix>:workers`. Separate keys from the queues
/// (not in a script), so it works on Redis Cluster too.
public struct WorkerRegistry: Sendable {
    public struct Entry: Sendable, Equatable {
        public var fields: [String: String]
        public var id: String { fields["id"] ?? "" }
    }

    public let prefix: String
    public let client: RedisClient
    public let ttl: Duration

    public init(prefix: String, client: RedisClient, ttl: Duration = .seconds(30)) {
        self.prefix = prefix
        self.client = client
        self.ttl = ttl
    }

    public func key(_ worker: String) -> String { "\(prefix):worker:\(worker)" }
    var indexKey: String { "\(prefix):workers" }

    /// Writes the worker's record and renews its TTL.
    public func refresh(worker: String, fields: [String: String]) async throws(RedisError) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var hset = ["HSET", key(worker), "id", worker, "heartbeat_at", String(now)]
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { hset += [name, value] }
        _ = try await client.pipeline([
            hset, ["PEXPIRE", key(worker), String(ttl.milliseconds)], ["ZADD", indexKey, String(now), worker],
        ])
    }

    public func isAlive(worker: String) async throws(RedisError) -> Bool {
        try await client.command(["EXISTS", key(worker)]).integer == 1
    }

    public func remove(worker: String) async throws(RedisError) {
        _ = try await client.pipeline([["DEL", key(worker)], ["ZREM", indexKey, worker]])
    }

    /// Live workers; entries whose record expired are dropped from the index.
    public func list() async throws(RedisError) -> [Entry] {
        let ids = (try await client.command(["ZRANGE", indexKey, "0", "-1"]).array ?? []).compactMap(\.string)
        guard !ids.isEmpty else { return [] }
        let replies = try await client.pipeline(ids.map { ["HGETALL", key($0)] })
        var entries: [Entry] = []
        var expired: [String] = []
        for (id, reply) in zip(ids, replies) {
            let items = (reply.array ?? []).map { $0.string ?? "" }
            if items.isEmpty { expired.append(id); continue }
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: items.count - 1, by: 2) { fields[items[index]] = items[index + 1] }
            entries.append(Entry(fields: fields))
        }
        if !expired.isEmpty { try await client.command(["ZREM", indexKey] + expired) }
        return entries
    }
}
