import Synchronization

/// A continuation resumed by whichever of several racing tasks answers first; later answers
/// are dropped.
final class FirstAnswer<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(with result: Result<Value, any Error>) {
        let waiting = continuation.withLock { held -> CheckedContinuation<Value, any Error>? in
            defer { held = nil }
            return held
        }
        waiting?.resume(with: result)
    }
}
