import CFFmpegShim

/// Receives one shim call's callbacks (on the call's own thread) and carries its results out.
/// Subclasses add what their call reports.
class ShimCallbacks: @unchecked Sendable {
    let progress: (@Sendable (Double) -> Void)?

    required init(progress: (@Sendable (Double) -> Void)?) { self.progress = progress }

    var pointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> ShimCallbacks? {
        pointer.map { Unmanaged<ShimCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// The shim's progress callback, forwarding to the call's `ShimCallbacks`.
let shimProgressCallback: mw_progress_callback = { user, fraction in
    ShimCallbacks.from(user)?.progress?(fraction)
}

enum ShimCall {
    /// Runs one blocking shim call on a thread of its own with a cancel token that Swift task
    /// cancellation trips; a status other than MW_OK becomes a `MediaError`.
    static func run<Callbacks: ShimCallbacks>(
        _ callbacks: Callbacks,
        _ body: @Sendable @escaping (Callbacks, CancelToken, UnsafeMutablePointer<CChar>) -> mw_status
    ) async throws(MediaError) -> Callbacks {
        let token = CancelToken()
        let outcome: Result<Callbacks, MediaError>
        do {
            outcome = try await BlockingWork.run(cancel: token) {
                var message = [CChar](repeating: 0, count: 512)
                let status = message.withUnsafeMutableBufferPointer { body(callbacks, token, $0.baseAddress!) }
                guard status == MW_OK else { return .failure(MediaError(status: status, message: cString(message))) }
                return .success(callbacks)
            }
        } catch {
            throw MediaError(code: .canceled, message: "not run: \(error)")
        }
        return try outcome.get()
    }
}
