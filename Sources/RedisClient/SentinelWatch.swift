import Logging

/// Listens to a sentinel for `+switch-master` of our master, so a client moves to the promoted
/// replica as soon as the sentinels decide, not only once its own next command fails: an old
/// master cut off from the sentinels but still reachable from this host would otherwise keep
/// taking writes that the failover then throws away.
struct SentinelWatch: Sendable {
    var discovery: SentinelDiscovery
    /// How long one read waits before looking at cancellation again.
    var poll: Duration = .seconds(1)

    /// Runs until cancelled, calling `named` with the master's address each time the sentinels
    /// switch it, and once after every (re)subscription (a switch while no sentinel was heard is
    /// not missed). Sentinels are taken in turn when one is lost.
    func run(logger: Logger, named: @escaping @Sendable (RedisURL.Endpoint) async -> Void) async {
        var turn = 0
        while !Task.isCancelled {
            let seed = discovery.seeds[turn % discovery.seeds.count]
            turn += 1
            var connection: RedisConnection?
            do {
                let sentinel = try await RedisConnection(target: RedisConnection.Target(endpoint: seed, tls: discovery.tls), options: discovery.options)
                connection = sentinel
                try await sentinel.command(["SUBSCRIBE", "+switch-master"])
                if let now = try? await discovery.master(logger: logger) { await named(now) }
                while !Task.isCancelled {
                    guard let message = try await sentinel.nextMessage(wait: poll) else { continue }
                    if let endpoint = Self.switchedMaster(in: message, named: discovery.master) {
                        logger.notice("sentinels switched the master", metadata: ["master": "\(discovery.master)", "to": "\(endpoint)"])
                        await named(endpoint)
                    }
                }
            } catch {
                logger.debug("sentinel watch lost its sentinel", metadata: ["sentinel": "\(seed)", "error": "\(error)"])
                try? await Task.sleep(for: poll)
            }
            await connection?.close()
        }
    }

    /// `message +switch-master "<name> <old-ip> <old-port> <new-ip> <new-port>"` for our master.
    static func switchedMaster(in message: RedisReply, named master: String) -> RedisURL.Endpoint? {
        guard let parts = message.array, parts.count == 3, parts[0].string == "message", parts[1].string == "+switch-master",
              let text = parts[2].string else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count == 5, fields[0] == master, let port = Int(fields[4]) else { return nil }
        return .tcp(host: String(fields[3]), port: port)
    }
}
