import NIOPosix

/// Runs a blocking shim call on NIO's thread pool, off Swift's cooperative threads
/// (only two of them on a two-core host), and forwards task cancellation to the shim.
enum BlockingWork {
    static func run<T: Sendable>(
        cancel token: CancelToken? = nil,
        _ body: @Sendable @escaping () throws -> T
    ) async throws -> T {
        try await withTaskCancellationHandler {
            try await NIOThreadPool.singleton.runIfActive(body)
        } onCancel: {
            token?.cancel()
        }
    }
}
