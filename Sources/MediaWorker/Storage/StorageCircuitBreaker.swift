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
    public func record(success: Bool, error: StorageError? = nil) {
        let changed: (State, String?)? = counters.withLock { counters in
            if success {
                counters.consecutiveFailures = 0
                guard counters.state == .open else { return nil }
                counters.state = .closed
                counters.lastError = nil
                return (.closed, nil)
            }
            guard let error, error.code == .unavailable else { return nil }
            counters.consecutiveFailures += 1
            counters.lastError = error.description
            guard counters.state == .closed, counters.consecutiveFailures >= threshold else { return nil }
            counters.state = .open
            return (.open, counters.lastError)
        }
        if let changed { onChange(changed.0, changed.1) }
    }

    /// Forces the breaker open (a failed health probe is as good as `threshold` failures).
    public func trip(_ error: StorageError) {
        let opened: Bool = counters.withLock { counters in
            counters.consecutiveFailures = max(counters.consecutiveFailures, threshold)
            counters.lastError = error.description
            guard counters.state == .closed else { return false }
            counters.state = .open
            return true
        }
        if opened { onChange(.open, error.description) }
    }
}
