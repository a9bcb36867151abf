import Synchronization

/// What `/readyz` reports: whether this worker should be given work now.
public final class ReadinessState: Sendable {
    public struct Report: Codable, Sendable, Equatable {
        public var ready: Bool
        public var redis: Bool
        public var storage: Bool
        public var disk: Bool
        public var draining: Bool
        public var detail: String?
    }

    private struct State {
        var redisReachable = false
        var lastRedisSuccess: ContinuousClock.Instant?
        var draining = false
        var detail: String?
        var storageReachable = true
        var storageDetail: String?
        var diskOK = true
        var diskDetail: String?
    }

    private let state = Mutex(State())

    public init() {}

    public func setRedis(reachable: Bool, detail: String? = nil) {
        state.withLock {
            $0.redisReachable = reachable
            $0.detail = detail
            if reachable { $0.lastRedisSuccess = .now }
        }
    }

    /// Every Redis reply (or connection failure) the worker sees: its own traffic proves
    /// Redis alive, so the health monitor need not add a PING of its own.
    public func recordRedis(success: Bool) {
        setRedis(reachable: success, detail: success ? nil : "REDIS_CONNECTION: the last command could not reach Redis")
    }

    /// How long ago Redis last answered, if ever.
    public var sinceLastRedisSuccess: Duration? {
        state.withLock { $0.lastRedisSuccess.map { ContinuousClock.now - $0 } }
    }

    /// The storage circuit breaker's state: open means not ready (no jobs taken).
    public func setStorage(reachable: Bool, detail: String? = nil) {
        state.withLock {
            $0.storageReachable = reachable
            $0.storageDetail = detail
        }
    }

    /// Whether the temp folder has the free space a job needs.
    public func setDisk(ok: Bool, detail: String? = nil) {
        state.withLock {
            $0.diskOK = ok
            $0.diskDetail = detail
        }
    }

    /// Once draining, a worker stays unready until it exits.
    public func startDraining() {
        state.withLock { $0.draining = true }
    }

    public var report: Report {
        state.withLock { s in
            Report(ready: s.redisReachable && s.storageReachable && s.diskOK && !s.draining, redis: s.redisReachable,
                   storage: s.storageReachable, disk: s.diskOK, draining: s.draining, detail: s.detail ?? s.storageDetail ?? s.diskDetail)
        }
    }
}
