import NIOPosix

/// File work that blocks (copies, fsyncs, deletes, directory walks) runs on NIO's pool of
/// threads for blocking work, never on Swift's cooperative threads: those are as many as the
/// cores (two here), and a slow disk holding both would stall lease renewal and every other task.
package enum BlockingIO {
    package static func run<T: Sendable>(_ work: @escaping @Sendable () throws(StorageError) -> T) async throws(StorageError) -> T {
        let result: Result<T, StorageError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive { () -> Result<T, StorageError> in
                do throws(StorageError) { return .success(try work()) } catch { return .failure(error) }
            }
        } catch is CancellationError {
            throw StorageError(code: .canceled, message: "canceled before its file work started")
        } catch {
            throw StorageError(code: .io, message: "the thread pool for blocking I/O is not running: \(error)")
        }
        return try result.get()
    }
}
