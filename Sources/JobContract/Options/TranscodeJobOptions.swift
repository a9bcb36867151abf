/// `transcode` options (contracts/options/transcode.schema.json). Absent fields keep the
/// media layer's defaults.
public struct TranscodeJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.transcode

    public enum SegmentFormat: String, Decodable, Sendable { case fmp4, ts }
    public enum AudioLayout: String, Decodable, Sendable { case shared, muxed }
    public enum Packaging: String, Decodable, Sendable { case auto, encode, copy }

    /// Whether a long encode is split into chunks run by the whole pool.
    public enum Split: Decodable, Sendable, Equatable {
        case off
        /// Inputs longer than the worker's MW_SPLIT_MIN_S, when the options allow it.
        case auto
        /// Chunks of this many seconds (rounded up to whole segments).
        case chunks(seconds: Double)

        enum CodingKeys: String, CodingKey { case chunkSeconds = "chunk_s" }

        public init(from decoder: any Decoder) throws {
            if let word = try? decoder.singleValueContainer().decode(String.self) {
                self = word == "off" ? .off : .auto
                return
            }
            self = .chunks(seconds: try decoder.container(keyedBy: CodingKeys.self).decode(Double.self, forKey: .chunkSeconds))
        }
    }

    /// Rung heights of the default ladder.
    public var renditions: [Int]?
    public var segmentFormat: SegmentFormat?
    public var segmentDurationSeconds: Double?
    public var audio: AudioLayout?
    /// Loudness normalisation of every audio rendition (`audio.loudness`); nil: as the source is.
    public var loudness: LoudnessOptions?
    public var packaging: Packaging?
    /// An x264 preset.
    public var preset: String?
    public var maxFPS: Double?
    /// Evenly spaced thumbnails.
    public var thumbnails: Int = 5
    public var storyboard: Bool = true
    /// Heights of MP4 renditions made besides HLS.
    public var mp4: [Int] = []
    public var split: Split = .auto
    /// The ladder's codecs, H.264 first and always present.
    public var codecs: [VideoCodec] = [.h264]
    /// A DASH manifest beside the HLS master.
    public var dash = false
    /// The source's audio streams to package (nil: every one).
    public var audioTracks: [AudioTrackPick]?
    /// Sidecar subtitle files.
    public var subtitles: [SidecarSubtitle] = []
    /// Share of segments measured for the quality report (0: none, 1: all).
    public var qualitySample: Double = 0.1
    /// Previews made with the transcode (the waveform).
    public var preview = PreviewOptions()
    /// Quality control: black, frozen and silent stretches (on by default).
    public var qc = QualityControlOptions()
    /// `qc` was in the options: a stream copy (which decodes nothing) gives way to an encode.
    public var qcRequested = false
    public enum Ladder: String, Decodable, Sendable { case fixed, perTitle = "per_title" }
    public var ladder: Ladder = .fixed
    /// Per-title ladders: the top rung's luma PSNR (nil: the fixed ladder's top quality).
    public var targetPSNR: Double?
    /// HLS AES-128 segment encryption (nil: segments in the clear).
    public var encryption: EncryptionOptions?
    /// Automatic captions from the speech (`captions.auto`); nil or `auto` false: none.
    public var captions: AutoCaptionOptions?

    public struct SidecarSubtitle: Decodable, Sendable, Equatable {
        public var url: String
        public var language: String
        public var name: String?
        public var isDefault: Bool

        enum CodingKeys: String, CodingKey { case url, language, name, isDefault = "default" }

        public init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            url = try fields.decode(String.self, forKey: .url)
            language = try fields.decode(String.self, forKey: .language)
            name = try fields.decodeIfPresent(String.self, forKey: .name)
            isDefault = try fields.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
        }
    }

    public init() {}

    /// Chunks need fMP4 segments, a shared audio rendition, an encode and no MP4 renditions
    /// (each of those is made in one pass): an explicit split with any of them is an error.
    public func check() throws(JSONValueDecodingError) {
        if dash {
            // DASH reads the CMAF tracks: fMP4, video and audio apart, encoded by us.
            let reason: String? = segmentFormat == .ts ? "TS segments" : audio == .muxed ? "muxed audio" : packaging == .copy ? "stream copy (audio stays muxed)" : nil
            if let reason {
                throw JSONValueDecodingError(path: "options.dash", message: "DASH needs fMP4 segments with audio and video in separate tracks: not with \(reason)")
            }
        }
        if audio == .muxed, let audioTracks, audioTracks.count > 1 {
            throw JSONValueDecodingError(path: "options.audio_tracks", message: "several audio renditions need shared audio, not muxed")
        }
        if codecs != [.h264] {
            let reason: String? = segmentFormat == .ts ? "TS segments" : packaging == .copy ? "stream copy" : nil
            if let reason {
                throw JSONValueDecodingError(path: "options.codecs", message: "HEVC and AV1 go in fMP4 segments and are encoded: not with \(reason)")
            }
        }
        if encryption != nil {
            // AES-128 is HLS's; DASH would need CENC. MP4 renditions would publish the video in the clear.
            // MPEG-TS segments: players (GStreamer 1.22, Video.js 7) apply a segment's key to an fMP4 init segment too.
            let reason: String? = dash ? "dash (DASH players need CENC, not HLS AES-128)" : !mp4.isEmpty ? "mp4 renditions (they would be in the clear)"
                : segmentFormat == .fmp4 ? "fMP4 segments (encrypted packages use MPEG-TS: players read an fMP4 init segment with the segment's key)"
                : codecs != [.h264] ? "HEVC or AV1 (they need fMP4 segments; encrypted packages use MPEG-TS)"
                : isExplicitSplit ? "an explicit split (encrypted packages are made in one pass)" : nil
            if let reason { throw JSONValueDecodingError(path: "options.encryption", message: "not with \(reason)") }
        }
        if targetPSNR != nil, ladder != .perTitle {
            throw JSONValueDecodingError(path: "options.target_psnr", message: "a target PSNR needs \"ladder\": \"per_title\"")
        }
        if ladder == .perTitle, packaging == .copy {
            throw JSONValueDecodingError(path: "options.ladder", message: "a per-title ladder is encoded: not with stream copy")
        }
        guard case .chunks = split else { return }
        let reason: String? = segmentFormat == .ts ? "TS segments" : audio == .muxed ? "muxed audio" : packaging == .copy ? "stream copy"
            : !mp4.isEmpty ? "MP4 renditions" : nil
        if let reason {
            throw JSONValueDecodingError(path: "options.split", message: "cannot split a transcode with \(reason) (made in one pass): use \"off\" or drop them")
        }
    }

    var isExplicitSplit: Bool {
        if case .chunks = split { return true }
        return false
    }

    /// Whether these options allow a split at all.
    public var allowsSplit: Bool {
        split != .off && segmentFormat != .ts && audio != .muxed && packaging != .copy && mp4.isEmpty && encryption == nil
    }

    enum AudioFields: String, CodingKey { case layout, loudness }

    enum CodingKeys: String, CodingKey {
        case renditions, audio, packaging, preset, thumbnails, storyboard, mp4, split, codecs, dash
        case audioTracks = "audio_tracks", subtitles
        case qualitySample = "quality_sample", ladder, targetPSNR = "target_psnr", qc, preview, encryption, captions
        case segmentFormat = "segment_format", segmentDurationSeconds = "segment_duration_s", maxFPS = "max_fps"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        renditions = try fields.decodeIfPresent([Int].self, forKey: .renditions)
        segmentFormat = try fields.decodeIfPresent(SegmentFormat.self, forKey: .segmentFormat)
        segmentDurationSeconds = try fields.decodeIfPresent(Double.self, forKey: .segmentDurationSeconds)
        // `audio`: the layout as a word, or {"layout", "loudness"}.
        if let layout = try? fields.decodeIfPresent(AudioLayout.self, forKey: .audio) {
            audio = layout
        } else if fields.contains(.audio) {
            let object = try fields.nestedContainer(keyedBy: AudioFields.self, forKey: .audio)
            audio = try object.decodeIfPresent(AudioLayout.self, forKey: .layout)
            loudness = try object.decodeIfPresent(LoudnessOptions.self, forKey: .loudness)
        }
        packaging = try fields.decodeIfPresent(Packaging.self, forKey: .packaging)
        preset = try fields.decodeIfPresent(String.self, forKey: .preset)
        maxFPS = try fields.decodeIfPresent(Double.self, forKey: .maxFPS)
        thumbnails = try fields.decodeIfPresent(Int.self, forKey: .thumbnails) ?? 5
        storyboard = try fields.decodeIfPresent(Bool.self, forKey: .storyboard) ?? true
        mp4 = try fields.decodeIfPresent([Int].self, forKey: .mp4) ?? []
        split = try fields.decodeIfPresent(Split.self, forKey: .split) ?? .auto
        dash = try fields.decodeIfPresent(Bool.self, forKey: .dash) ?? false
        audioTracks = try fields.decodeIfPresent([AudioTrackPick].self, forKey: .audioTracks)
        subtitles = try fields.decodeIfPresent([SidecarSubtitle].self, forKey: .subtitles) ?? []
        qualitySample = try fields.decodeIfPresent(Double.self, forKey: .qualitySample) ?? 0.1
        ladder = try fields.decodeIfPresent(Ladder.self, forKey: .ladder) ?? .fixed
        targetPSNR = try fields.decodeIfPresent(Double.self, forKey: .targetPSNR)
        qc = try fields.decodeIfPresent(QualityControlOptions.self, forKey: .qc) ?? QualityControlOptions()
        qcRequested = fields.contains(.qc) && qc.enabled
        preview = try fields.decodeIfPresent(PreviewOptions.self, forKey: .preview) ?? PreviewOptions()
        encryption = try fields.decodeIfPresent(EncryptionOptions.self, forKey: .encryption)
        captions = try fields.decodeIfPresent(AutoCaptionOptions.self, forKey: .captions)
        // H.264 is the fallback every ladder keeps; the order is fixed so manifests are too.
        codecs = Array(Set((try fields.decodeIfPresent([VideoCodec].self, forKey: .codecs) ?? []) + [.h264])).sorted()
    }
}
