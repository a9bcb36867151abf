import CFFmpegShim

/// Encoder settings shared by every rendition of a job.
public struct EncodeSettings: Sendable, Equatable {
    /// x264 preset.
    public var preset: String = "veryfast"
    /// Frame-rate cap; nil: the source's rate.
    public var maxFPS: Double? = nil
    /// Keyframe interval in seconds.
    public var gopSeconds: Double = 2
    public var audioBitrate: Int = 128_000
    public var audioChannels: Int = 2
    /// nil: the source's rate when 44.1 or 48 kHz, else 48 kHz.
    public var audioSampleRate: Int? = nil
    /// Codec threads; 0: one per core.
    public var threads: Int = 0

    public init() {}

    static let presets: Set<String> = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]

    var shimValue: mw_encode_settings {
        var settings = mw_encode_settings()
        mw_encode_settings_init_default(&settings)
        withUnsafeMutableBytes(of: &settings.preset) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, byte) in preset.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        settings.max_fps = maxFPS ?? 0
        settings.gop_s = gopSeconds
        settings.audio_bitrate = Int32(clamping: audioBitrate)
        settings.audio_channels = Int32(clamping: audioChannels)
        settings.audio_sample_rate = Int32(clamping: audioSampleRate ?? 0)
        settings.threads = Int32(clamping: threads)
        return settings
    }
}

/// How a ladder is packaged as HLS.
public struct HLSSettings: Sendable, Equatable {
    public enum SegmentFormat: String, Sendable, Codable { case fmp4, ts }
    public enum Packaging: String, Sendable, Codable {
        /// Stream copy when the source allows it and one rung is asked for; else encode.
        case auto
        case encode
        /// Stream copy or fail with MEDIA_COPY_NOT_POSSIBLE.
        case copy
    }

    public var segmentFormat: SegmentFormat = .fmp4
    public var targetDurationSeconds: Double = 6
    /// false: one audio rendition (EXT-X-MEDIA) shared by every variant.
    public var audioMuxed = false
    public var packaging: Packaging = .auto

    public init() {}

    var shimValue: mw_hls_settings {
        mw_hls_settings(segment_format: segmentFormat == .ts ? Int32(MW_SEGMENTS_TS.rawValue) : Int32(MW_SEGMENTS_FMP4.rawValue),
                        target_duration_s: targetDurationSeconds, audio_muxed: audioMuxed ? 1 : 0)
    }
}
