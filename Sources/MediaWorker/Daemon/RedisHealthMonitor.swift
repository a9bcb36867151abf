import Logging
import Metrics
import QueueClient
import ServiceLifecycle

/// Pings Redis once a second on a connection of its own and keeps `/readyz` honest.
/// On graceful shutdown it marks the worker as draining before it stops.
public struct RedisHealthMonitor: Service {
    let url: RedisURL
    let readiness: ReadinessState
    let logger: Logger
    let interval: Duration

    public init(url: RedisURL, readiness: ReadinessState, logger: Logger, interval: Duration = .seconds(1)) {
        self.url = url
        self.readiness = readiness
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        let up = Gauge(label: "mw_redis_up")
        let reconnects = Counter(label: "mw_redis_reconnects_total")
        var connection: RedisConnection?
        var wasReachable: Bool?

        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var reachable = false
                var detail: String?
                do {
                    if connection == nil {
                        connection = try await RedisConnection(url: url, options: .init(connectTimeout: .seconds(1), commandTimeout: .seconds(1)))
                        if wasReachable == false { reconnects.increment() }
                    } else if await connection?.isConnected == false {
                        try await connection?.reconnect()
                        reconnects.increment()
                    }
                    let reply = try await connection?.command(["PING"])
                    reachable = reply == .status("PONG")
                } catch {
                    detail = "\(error)"
                }
                readiness.setRedis(reachable: reachable, detail: detail)
                up.record(reachable ? 1 : 0)
                if reachable != wasReachable {
                    if reachable {
                        logger.info("redis reachable", metadata: ["redis": "\(url)"])
                    } else {
                        logger.warning("redis unreachable", metadata: ["redis": "\(url)", "error": "\(detail ?? "")"])
                    }
                    wasReachable = reachable
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
            readiness.startDraining()
        }
        await connection?.close()
    }
}
