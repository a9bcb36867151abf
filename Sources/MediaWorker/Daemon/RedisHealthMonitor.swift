import Logging
import Metrics
import QueueClient
import RedisClient
import ServiceLifecycle

/// Keeps `/readyz` honest about Redis. The worker's own traffic proves Redis alive most of
/// the time; only when nothing answered for `quietPeriod` does it PING on a connection of
/// its own, so an idle worker adds no commands.
public struct RedisHealthMonitor: Service {
    let url: RedisURL
    let readiness: ReadinessState
    let logger: Logger
    let interval: Duration
    let quietPeriod: Duration

    public init(url: RedisURL, readiness: ReadinessState, logger: Logger, interval: Duration = .seconds(1), quietPeriod: Duration = .seconds(5)) {
        self.url = url
        self.readiness = readiness
        self.logger = logger
        self.interval = interval
        self.quietPeriod = quietPeriod
    }

    public func run() async throws {
        let up = Gauge(label: "mw_redis_up")
        let client = RedisClient(url: url, options: .init(connectTimeout: .seconds(1), commandTimeout: .seconds(1)))
        var wasReachable: Bool?

        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let quiet = readiness.sinceLastRedisSuccess.map { $0 >= quietPeriod } ?? true
                if quiet || readiness.report.redis == false {
                    do {
                        let reply = try await client.command(["PING"])
                        readiness.setRedis(reachable: reply == .status("PONG"))
                    } catch {
                        readiness.setRedis(reachable: false, detail: "\(error)")
                    }
                }
                let report = readiness.report
                let reachable = report.redis
                let detail = report.detail
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
        await client.close()
    }
}
