import Logging
import Metrics
import ServiceLifecycle
import Storage

/// Probes the S3 endpoint: at start, every `interval` while the circuit breaker is open (until a
/// probe succeeds and closes it), and every `quietInterval` otherwise, so a dead endpoint is
/// noticed before jobs fail on it.
public struct StorageHealthMonitor: Service {
    let s3: S3Storage
    let bucket: String
    let breaker: StorageCircuitBreaker
    let logger: Logger
    let interval: Duration
    let quietInterval: Duration

    public init(s3: S3Storage, bucket: String, breaker: StorageCircuitBreaker, logger: Logger,
                interval: Duration = .seconds(1), quietInterval: Duration = .seconds(10)) {
        self.s3 = s3
        self.bucket = bucket
        self.breaker = breaker
        self.logger = logger
        self.interval = interval
        self.quietInterval = quietInterval
    }

    public func run() async throws {
        let up = Gauge(label: "mw_storage_up")
        var sinceProbe = quietInterval
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if breaker.isOpen || sinceProbe >= quietInterval {
                if let failure = await s3.probeFailure(bucket: bucket) {
                    breaker.trip(failure)
                } else {
                    breaker.record(success: true)
                }
                sinceProbe = .zero
            }
            up.record(breaker.isOpen ? 0 : 1)
            try? await Task.sleep(for: interval)
            sinceProbe += interval
        }
    }
}
