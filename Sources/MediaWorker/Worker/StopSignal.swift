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

/// A one-shot signal that one task of a job waits on beside its handler: the first `stop` wins.
final class StopSignal: Sendable {
    private let stream: AsyncStream<StopReason>
    private let continuation: AsyncStream<StopReason>.Continuation
    private let stored = Mutex<StopReason?>(nil)

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: StopReason.self, bufferingPolicy: .bufferingOldest(1))
    }

    func stop(_ reason: StopReason) {
        let first = stored.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        guard first else { return }
        continuation.yield(reason)
        continuation.finish()
    }

    var reason: StopReason? { stored.withLock { $0 } }

    /// Waits for `stop`; nil when the waiting task is cancelled first. One waiter only.
    func wait() async -> StopReason? {
        for await reason in stream { return reason }
        return nil
    }
}
