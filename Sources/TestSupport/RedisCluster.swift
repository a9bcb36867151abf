import Foundation

/// A private Redis Cluster on loopback: `masters` masters with a replica each, made with
/// `redis-cli --cluster create`, AOF with `appendfsync always`, a short node timeout so a
/// failover takes seconds. Stopped by `remove()`.
public final class RedisCluster: Sendable {
    public let servers: [RedisServer]
    public let nodeTimeoutMilliseconds: Int

    private init(servers: [RedisServer], nodeTimeoutMilliseconds: Int) {
        self.servers = servers
        self.nodeTimeoutMilliseconds = nodeTimeoutMilliseconds
    }

    /// Seeds for `redis+cluster://`: every node.
    public var url: String { "redis+cluster://" + servers.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    public static func start(masters: Int = 3, nodeTimeoutMilliseconds: Int = 2000) async throws -> RedisCluster {
        var servers: [RedisServer] = []
        do {
            for _ in 0..<(masters * 2) {
                servers.append(try await RedisServer.start(.init(appendOnly: true, appendFsync: "always", extraArguments: [
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", String(nodeTimeoutMilliseconds), "--cluster-replica-validity-factor", "0",
                ], clusterNode: true)))
            }
            let cluster = RedisCluster(servers: servers, nodeTimeoutMilliseconds: nodeTimeoutMilliseconds)
            let created = try await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"),
                ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"],
                timeout: .seconds(60))
            guard created.succeeded else { throw TestEnvironmentError.serverFailed(name: "redis cluster", detail: created.stdout + created.stderr) }
            try await cluster.waitUntilHealthy()
            return cluster
        } catch {
            for server in servers { await server.remove() }
            throw error
        }
    }

    /// Runs `body` with a fresh cluster, then stops every node, whether `body` succeeds or throws.
    public static func with<T>(masters: Int = 3, _ body: (RedisCluster) async throws -> T) async throws -> T {
        let cluster = try await start(masters: masters)
        return try await withCleanup(cluster, body) { await $0.remove() }
    }

    /// Every live node says `cluster_state:ok` and agrees on who serves every slot.
    public func waitUntilHealthy(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var healthy = true
            for server in servers where server.serverPID != nil {
                let info = (try? await server.cli(["CLUSTER", "INFO"])) ?? ""
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") { healthy = false }
                // A replica that has not finished its first sync would lose everything at a failover.
                let replication = (try? await server.cli(["INFO", "replication"])) ?? ""
                if replication.contains("role:slave") && !replication.contains("master_link_status:up") { healthy = false }
            }
            if healthy { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestEnvironmentError.serverFailed(name: "redis cluster", detail: "not healthy after \(timeout)")
    }

    /// Masters and the slot ranges they serve, from `CLUSTER NODES` asked of a live node.
    public func slotRanges() async throws -> [(server: RedisServer, ranges: [ClosedRange<Int>])] {
        for asked in servers where asked.serverPID != nil {
            guard let text = try? await asked.cli(["CLUSTER", "NODES"]) else { continue }
            var result: [(RedisServer, [ClosedRange<Int>])] = []
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                guard fields.count >= 8, fields[2].contains("master"), !fields[2].contains("fail"),
                      let port = Int(fields[1].split(separator: "@")[0].split(separator: ":").last ?? ""),
                      let server = servers.first(where: { $0.port == port }) else { continue }
                let ranges = fields.dropFirst(8).compactMap { field -> ClosedRange<Int>? in
                    if field.hasPrefix("[") { return nil } // a migration in progress
                    let bounds = field.split(separator: "-").compactMap { Int($0) }
                    return bounds.count == 2 ? bounds[0]...bounds[1] : bounds.count == 1 ? bounds[0]...bounds[0] : nil
                }
                result.append((server, ranges))
            }
            if !result.isEmpty { return result }
        }
        throw TestEnvironmentError.serverFailed(name: "redis cluster", detail: "no node answered CLUSTER NODES")
    }

    /// The master that serves `slot` now.
    public func master(of slot: Int) async throws -> RedisServer {
        for (server, ranges) in try await slotRanges() where ranges.contains(where: { $0.contains(slot) }) { return server }
        throw TestEnvironmentError.serverFailed(name: "redis cluster", detail: "no node serves slot \(slot)")
    }

    /// One queue name per master (as many as there are masters serving slots), the hash slot
    /// of each computed by `slot` (the client's CRC16). The first one's slot is the lowest slot
    /// of its master, so `redis-cli --cluster reshard --cluster-slots 1` from there moves exactly it.
    public func queueNamesOnDifferentMasters(slot: (String) -> Int) async throws -> [String] {
        var names: [String] = []
        for (server, ranges) in try await slotRanges() where !ranges.isEmpty {
            let wanted = names.isEmpty ? ranges.map(\.lowerBound).min() : nil
            guard let name = (0..<2_000_000).lazy.map({ "q\(server.port)-\($0)" }).first(where: { name in
                let owned = slot(name)
                return wanted.map { owned == $0 } ?? ranges.contains { $0.contains(owned) }
            }) else { throw TestEnvironmentError.serverFailed(name: "redis cluster", detail: "no queue name for \(server.port)") }
            names.append(name)
        }
        return names
    }

    /// A node's id (`CLUSTER MYID`).
    public func nodeID(_ server: RedisServer) async throws -> String {
        try await server.cli(["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func remove() async {
        for server in servers { await server.remove() }
    }
}
