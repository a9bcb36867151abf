import Logging

/// Asks a group of Sentinels which server is the master of `master` now. Sentinels are asked in
/// order; the first that knows answers (a sentinel that does not know, or cannot be reached, is
/// skipped). The caller checks the answer with `ROLE`, since a sentinel can lag behind a failover.
struct SentinelDiscovery: Sendable {
    var seeds: [RedisURL.Endpoint]
    var master: String
    var tls: RedisTLSOptions?
    var options: RedisConnection.Options

    func master(logger: Logger) async throws(RedisError) -> RedisURL.Endpoint {
        var failures: [String] = []
        for seed in seeds {
            do {
                let sentinel = try await RedisConnection(target: RedisConnection.Target(endpoint: seed, tls: tls), options: options)
                defer { Task { await sentinel.close() } }
                let reply = try await sentinel.command(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", master])
                guard let fields = reply.array, fields.count == 2, let host = fields[0].string, let port = fields[1].integer.map(Int.init) else {
                    failures.append("\(seed): does not know \(master)")
                    continue
                }
                logger.debug("sentinel names the master", metadata: ["sentinel": "\(seed)", "master": "\(host):\(port)"])
                return .tcp(host: host, port: port)
            } catch {
                failures.append("\(seed): \(error)")
            }
        }
        throw .topology("no sentinel named a master for \(master) (\(failures.joined(separator: "; ")))")
    }
}
