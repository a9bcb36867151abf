import CFFmpegShim

/// Owns a shim cancellation token; cancelling it makes a running media loop stop.
final class CancelToken: @unchecked Sendable {
    // The shim's token is an atomic int: safe to cancel from any thread.
    let raw: OpaquePointer

    init() {
        guard let token = mw_cancel_token_new() else { fatalError("out of memory allocating a cancel token") }
        raw = token
    }

    deinit { mw_cancel_token_free(raw) }

    func cancel() { mw_cancel_token_cancel(raw) }
}
