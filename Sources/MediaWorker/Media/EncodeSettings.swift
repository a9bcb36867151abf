import CFFmpegShim
import JobContract

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
    /// Loudness correction of an MP4 rendition's audio: a gain, and a limiter's ceiling (dBFS) after it.
    public var audioGainDB: Double = 0
    public var audioLimitDB: Double? = nil
    /// An MP4 rendition's audio: this source stream (nil: the best one).
    public var audioStream: Int? = nil

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
        settings.audio_gain_db = audioGainDB
        settings.audio_limit_db = audioLimitDB ?? 0
        settings.audio_stream = Int32(clamping: audioStream ?? -1)
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

    /// What of a package one call makes: all of it, or a part of a split transcode.
    public enum Part: Sendable, Equatable {
        case whole
        /// The video frames in [start, end) for every rung (fMP4 only), segments numbered from
        /// `start` (a multiple of the target duration); `end` nil: to the end of the input.
        case videoRange(start: Double, end: Double?)
        /// The video frames in [start, end) for every rung (fMP4 only), starting at any time: a
        /// per-title analysis's sample, a package of its own that no other part lines up with.
        case videoSample(start: Double, end: Double)
        /// The audio rendition alone.
        case audio
    }

    public var segmentFormat: SegmentFormat = .fmp4
    public var targetDurationSeconds: Double = 6
    /// false: one audio rendition (EXT-X-MEDIA) shared by every variant.
    public var audioMuxed = false
    public var packaging: Packaging = .auto
    public var part: Part = .whole
    /// The timeline offset every part of one package must share (nil: computed).
    public var timelineOffsetSeconds: Double?
    /// A DASH manifest (manifest.mpd) beside the master, over the same fMP4 segments: needs
    /// fMP4, audio apart from video, and an encode (a stream copy keeps them muxed).
    public var dash = false
    /// Source stream indices of the audio renditions, the main one first (empty: the best one).
    public var audioStreams: [Int] = []
    /// Quality control on the decode (nil: none). Not with a stream copy: nothing is decoded.
    public var qualityControl: QualityControlOptions?
    /// Every video rendition's luma compared in the pass with the source frames it was encoded
    /// from, both at the largest rendition's size (bicubic): `HLSRendition.judgedFrames` and
    /// `judgedMSESum`, what `QualityMeter` would measure on the package afterwards.
    public var judgePSNR = false
    /// One linear gain per audio rendition (loudness normalisation), in `audioStreams`' order.
    public var audioGainsDB: [Double] = []
    /// A limiter's ceiling (dBFS) per audio rendition after its gain, nil for none (dynamic loudness correction).
    public var audioLimitsDB: [Double?] = []
    /// An animated preview made from the ladder's own decode, written at `path` (nil: none). Only
    /// a whole package that is encoded makes it (`HLSPackage.preview` says whether it was made).
    public var preview: PreviewTarget?

    public struct PreviewTarget: Sendable, Equatable {
        public var settings: AnimatedPreview.Settings
        public var path: String
        public init(settings: AnimatedPreview.Settings, path: String) {
            self.settings = settings
            self.path = path
        }
    }

    public init() {}

    var shimValue: mw_hls_settings {
        var value = mw_hls_settings()
        mw_hls_settings_init_default(&value)
        value.segment_format = segmentFormat == .ts ? Int32(MW_SEGMENTS_TS.rawValue) : Int32(MW_SEGMENTS_FMP4.rawValue)
        value.target_duration_s = targetDurationSeconds
        value.audio_muxed = audioMuxed ? 1 : 0
        value.audio_stream_count = Int32(min(audioStreams.count, Int(MW_MAX_AUDIO_TRACKS)))
        withUnsafeMutableBytes(of: &value.audio_streams) { buffer in
            let slots = buffer.bindMemory(to: Int32.self)
            for (slot, stream) in zip(slots.indices, audioStreams) { slots[slot] = Int32(stream) }
        }
        switch part {
        case .whole:
            value.part = Int32(MW_PART_WHOLE.rawValue)
        case .videoRange(let start, let end):
            value.part = Int32(MW_PART_VIDEO_RANGE.rawValue)
            value.range_start_s = start
            value.range_end_s = end ?? 0
        case .videoSample(let start, let end):
            value.part = Int32(MW_PART_VIDEO_RANGE.rawValue)
            value.range_start_s = start
            value.range_end_s = end
            value.range_anywhere = 1
        case .audio:
            value.part = Int32(MW_PART_AUDIO.rawValue)
        }
        value.timeline_offset_s = timelineOffsetSeconds ?? 0
        value.judge_psnr = judgePSNR ? 1 : 0
        if let qualityControl { value.qc = qualityControl.shimValue }
        withUnsafeMutableBytes(of: &value.audio_gain_db) { buffer in
            let slots = buffer.bindMemory(to: Double.self)
            for (slot, gain) in zip(slots.indices, audioGainsDB) { slots[slot] = gain }
        }
        withUnsafeMutableBytes(of: &value.audio_limit_db) { buffer in
            let slots = buffer.bindMemory(to: Double.self)
            for (slot, limit) in zip(slots.indices, audioLimitsDB) { slots[slot] = limit ?? 0 }
        }
        // A path too long for the shim's field makes no preview here: the caller makes it on its own.
        if let preview, preview.path.utf8.count < MemoryLayout.size(ofValue: value.preview_path) {
            value.preview = preview.settings.shimValue
            withUnsafeMutableBytes(of: &value.preview_path) { buffer in
                for (slot, byte) in zip(buffer.indices, preview.path.utf8) { buffer[slot] = byte }
            }
        }
        return value
    }
}
