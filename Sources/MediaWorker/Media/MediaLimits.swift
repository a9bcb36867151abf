import CFFmpegShim

/// Limits on untrusted input, enforced inside the shim while it reads.
public struct MediaLimits: Sendable, Equatable {
    public var maxWidth: Int32 = 8192
    public var maxHeight: Int32 = 8192
    public var maxPixels: Int64 = 8192 * 8192
    public var maxDuration: Duration = .seconds(6 * 3600)
    public var maxStreams: Int32 = 16
    /// Wall-time limit for one operation; nil for none.
    public var timeout: Duration? = nil

    public init() {}

    var shimValue: mw_limits {
        var limits = mw_limits()
        mw_limits_init_default(&limits)
        limits.max_width = maxWidth
        limits.max_height = maxHeight
        limits.max_pixels = maxPixels
        limits.max_duration_us = maxDuration.microseconds
        limits.max_streams = maxStreams
        limits.timeout_ms = timeout.map { $0.microseconds / 1000 } ?? 0
        return limits
    }
}

extension Duration {
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

}
