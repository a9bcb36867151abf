import Synchronization

/// Stops the worker from burning every queued job's retries against a storage endpoint that is
/// down: after `threshold` transient failures in a row (connection refused, timeouts, 5xx) it
/// opens; the worker then takes no new jobs and reports not ready until a probe succeeds.
public final class StorageCircuitBreaker: Sendable {
    public enum State: Sendable, Equatable { case closed, open }

    private struct Counters {
        var state = State.closed
        var consecutiveFailures = 0
        var lastError: String?
    }

    public let threshold: Int
    private let counters = Mutex(Counters())
    private let onChange: @Sendable (State, String?) -> Void

    public init(threshold: Int = 5, onChange: @escaping @Sendable (State, String?) -> Void = { _, _ in }) {
        self.threshold = max(1, threshold)
        self.onChange = onChange
    }

    public var state: State { counters.withLock { $0.state } }
    public var isOpen: Bool { state == .open }

    /// Every storage request's outcome; only transient failures count against the endpoint.
    /// (`onChange` runs under the lock, so its calls come in the order the state changed.)
    public func record(success: Bool, error: StorageError? = nil) {
        counters.withLock { counters in
            if success {
                counters.consecutiveFailures = 0
                guard counters.state == .open else { return }
                counters.state = .closed
                counters.lastError = nil
                onChange(.closed, nil)
                return
            }
            guard let error, error.code == .unavailable else { return }
            counters.consecutiveFailures += 1
            counters.lastError = error.description
            guard counters.state == .closed, counters.consecutiveFailures >= threshold else { return }
            counters.state = .open
            onChange(.open, counters.lastError)
        }
    }

    /// Forces the breaker open (a failed health probe is as good as `threshold` failures).
    public func trip(_ error: StorageError) {
        counters.withLock { counters in
            counters.consecutiveFailures = max(counters.consecutiveFailures, threshold)
            counters.lastError = error.description
            guard counters.state == .closed else { return }
            counters.state = .open
            onChange(.open, error.description)
        }
    }
}
