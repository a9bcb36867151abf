import Foundation

/// A master, a replica and three Sentinels watching them (quorum 2, a master is down after 1 s),
/// all on loopback, for failover tests. Stopped by `remove()`.
public final class RedisSentinelGroup: Sendable {
    public static let masterName = "mwmaster"
    public let master: RedisServer
    public let replica: RedisServer
    public let sentinelPorts: [Int]
    private let sentinels: [ManagedServerProcess]
    private let directories: [URL]

    private init(master: RedisServer, replica: RedisServer, sentinelPorts: [Int], sentinels: [ManagedServerProcess], directories: [URL]) {
        self.master = master
        self.replica = replica
        self.sentinelPorts = sentinelPorts
        self.sentinels = sentinels
        self.directories = directories
    }

    public var url: String {
        "redis+sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/\(Self.masterName)"
    }

    public static func with<T>(_ body: (RedisSentinelGroup) async throws -> T) async throws -> T {
        let executable = try ProjectPaths.tool("redis-server", package: "redis-server")
        let master = try await RedisServer.start(.init(appendOnly: true, appendFsync: "always"))
        var replica: RedisServer?
        var sentinels: [ManagedServerProcess] = []
        var directories: [URL] = []
        func cleanUp() async {
            for sentinel in sentinels { await sentinel.stop() }
            for directory in directories { try? FileManager.default.removeItem(at: directory) }
            await replica?.remove()
            await master.remove()
        }
        do {
            replica = try await RedisServer.start(.init(appendOnly: true, appendFsync: "always",
                                                        extraArguments: ["--replicaof", "127.0.0.1", String(master.port)]))
            var ports: [Int] = []
            for index in 0..<3 {
                let port = try LoopbackPort.free()
                let directory = try makeTestDirectory("sentinel")
                directories.append(directory)
                let config = directory.appendingPathComponent("sentinel.conf").path
                try """
                    port \(port)
                    bind 127.0.0.1
                    dir \(directory.path)
                    sentinel monitor \(Self.masterName) 127.0.0.1 \(master.port) 2
                    sentinel down-after-milliseconds \(Self.masterName) 1000
                    sentinel failover-timeout \(Self.masterName) 10000
                    sentinel parallel-syncs \(Self.masterName) 1

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                sentinels.append(try ManagedServerProcess(name: "sentinel-\(index)", executable: executable, arguments: [config, "--sentinel"],
                                                          directory: directory))
                ports.append(port)
            }
            let group = RedisSentinelGroup(master: master, replica: replica!, sentinelPorts: ports, sentinels: sentinels, directories: directories)
            try await group.waitUntilWatching()
            let result = try await body(group)
            await cleanUp()
            return result
        } catch {
            await cleanUp()
            throw error
        }
    }

    /// The address every sentinel names as the master now.
    public func namedMasterPorts() async -> [Int?] {
        var ports: [Int?] = []
        for port in sentinelPorts {
            let answer = try? await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"),
                ["-h", "127.0.0.1", "-p", String(port), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self.masterName], timeout: .seconds(5))
            ports.append(answer?.stdout.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        }
        return ports
    }

    /// Sentinels know the master and its replica, and the replica has synced.
    private func waitUntilWatching() async throws {
        // A bound for a group that never settles, not a measure of speed: a loaded machine slows it.
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let named = await namedMasterPorts()
            let replication = (try? await replica.cli(["INFO", "replication"])) ?? ""
            let replicas = (try? await CommandRunner.run(try ProjectPaths.tool("redis-cli", package: "redis-tools"),
                ["-h", "127.0.0.1", "-p", String(sentinelPorts[0]), "SENTINEL", "REPLICAS", Self.masterName], timeout: .seconds(5)))?.stdout ?? ""
            if named.allSatisfy({ $0 == master.port }) && replication.contains("master_link_status:up") && replicas.contains(String(replica.port)) {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestEnvironmentError.serverFailed(name: "redis sentinels", detail: sentinels.map { $0.logTail() }.joined(separator: "\n"))
    }
}
