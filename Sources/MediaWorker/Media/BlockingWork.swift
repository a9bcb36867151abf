import Foundation

/// Runs a blocking shim call on a thread of its own, off Swift's cooperative threads (only
/// two on a two-core host), and forwards task cancellation to the shim's token.
///
/// A thread per call, not a shared pool: media calls are few and long, and one queued behind
/// others in a pool could not be stopped (a cancel must take effect within 500 ms).
enum BlockingWork {
    static func run<T: Sendable>(
        cancel token: CancelToken? = nil,
        _ body: @Sendable @escaping () throws -> T
    ) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                let thread = Thread {
                    continuation.resume(with: Result { try body() })
                }
                thread.name = "media-work"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            token?.cancel()
        }
    }
}
