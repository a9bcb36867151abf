import RedisClient

/// Exponential backoff with full jitter: attempt n waits a uniform random time between 0 and
/// min(cap, base × 2^(n-1)). Jitter spreads retries of a burst of failures apart.
public struct RetryPolicy: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(5), cap: Duration = .seconds(600)) {
        self.base = base
        self.cap = cap
    }

    /// The most a retry after `attempt` failed attempts may wait.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let grown = base.milliseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        return grown.overflow ? cap : min(cap, .milliseconds(grown.partialValue))
    }

    public func delay<G: RandomNumberGenerator>(afterAttempt attempt: Int, using generator: inout G) -> Duration {
        let ceiling = ceiling(afterAttempt: attempt).milliseconds
        return .milliseconds(ceiling > 0 ? Int64.random(in: 0...ceiling, using: &generator) : 0)
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, using: &generator)
    }
}
