import Synchronization

/// Why a running job must stop before it finishes.
public enum StopReason: String, Sendable {
    /// An operator cancelled it (seen through the heartbeat).
    case cancelRequested = "cancel_requested"
    /// Its lease went to another delivery: whatever it produces would be refused.
    case leaseLost = "lease_lost"
    /// The worker is shutting down and the grace period is over: hand the job back.
    case shutdown
    /// It ran longer than its `timeout_s`.
    case timeout
}

/// A one-shot signal to a running job: the first `stop` wins, and cancels the job's work.
/// A lock and a callback rather than a stream and a waiting task: no-op jobs showed the extra
/// task and stream per job in the queue benchmark's profile.
final class StopSignal: Sendable {
    private struct State {
        var reason: StopReason?
        /// Set once the job's work has ended: a later stop is too late to change its report.
        var closed = false
        var onStop: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func stop(_ reason: StopReason) {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.reason == nil, !state.closed else { return nil }
            state.reason = reason
            defer { state.onStop = nil }
            return state.onStop
        }
        action?()
    }

    var reason: StopReason? { state.withLock { $0.reason } }

    /// Runs `action` at the first stop (at once when it came already).
    func onStop(_ action: @escaping @Sendable () -> Void) {
        let stoppedAlready = state.withLock { state -> Bool in
            if state.reason != nil { return true }
            state.onStop = action
            return false
        }
        if stoppedAlready { action() }
    }

    /// The job's work has ended: the stop that came before, if any (later ones are ignored).
    func close() -> StopReason? {
        state.withLock { state in
            state.closed = true
            state.onStop = nil
            return state.reason
        }
    }
}
