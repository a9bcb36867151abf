import CFFmpegShim
import Foundation
import JobContract

/// One rendition of an HLS package, as measured on what was written.
public struct HLSRendition: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case video, audio }

    public var kind: Kind
    /// Relative to the package directory, e.g. "720p/index.m3u8".
    public var playlist: String
    public var iframePlaylist: String?
    public var width: Int?
    public var height: Int?
    public var frameRate: Double?
    /// RFC 6381 codecs of this rendition alone, e.g. "avc1.64001f" or "avc1.64001f,mp4a.40.2".
    public var codecs: String
    public var peakBitrate: Int
    public var averageBitrate: Int
    public var iframePeakBitrate: Int?
    public var iframeAverageBitrate: Int?
    public var audioChannels: Int?
    public var segmentCount: Int
    public var durationSeconds: Double
    /// Muxed audio: the longest span of video held back waiting for audio (bounded, see the shim).
    public var audioWaitPeakSeconds: Double?
    /// Audio: the source stream's language and title tags.
    public var language: String? = nil
    public var name: String? = nil
    /// Video packaged with `HLSSettings.judgePSNR`: the frames compared in the pass and their luma
    /// MSEs summed (not encoded: what a per-title analysis reads, not part of any event).
    public var judgedFrames = 0
    public var judgedMSESum = 0.0

    enum CodingKeys: String, CodingKey {
        case kind, playlist, width, height, codecs
        case iframePlaylist = "iframe_playlist"
        case frameRate = "frame_rate"
        case peakBitrate = "peak_bitrate"
        case averageBitrate = "average_bitrate"
        case iframePeakBitrate = "iframe_peak_bitrate"
        case iframeAverageBitrate = "iframe_average_bitrate"
        case audioChannels = "audio_channels"
        case segmentCount = "segment_count"
        case durationSeconds = "duration_s"
        case audioWaitPeakSeconds = "audio_wait_peak_s"
        case language, name
    }
}

extension HLSRendition {
    /// Video: its codec, told by the RFC 6381 name (so a stitched package knows it too).
    public var codec: VideoCodec? {
        kind == .video ? Self.codec(ofCodecs: codecs) : nil
    }

    /// Audio: the main rendition (the source's default track, in "audio/"), which players pick first.
    public var isMainAudio: Bool { kind == .audio && playlist.hasPrefix("audio/") }

    /// The video codec an RFC 6381 list names ("hvc1.1.6.L93.B0,mp4a.40.2" → hevc); nil for none.
    static func codec(ofCodecs codecs: String) -> VideoCodec? {
        for entry in codecs.split(separator: ",") {
            if entry.hasPrefix("avc1") { return .h264 }
            if entry.hasPrefix("hvc1") { return .hevc }
            if entry.hasPrefix("av01") { return .av1 }
        }
        return nil
    }

    init(_ raw: mw_rendition_info) {
        kind = raw.kind == Int32(MW_RENDITION_AUDIO.rawValue) ? .audio : .video
        playlist = cString(raw.playlist)
        let iframes = cString(raw.iframe_playlist)
        iframePlaylist = iframes.isEmpty ? nil : iframes
        width = kind == .video ? Int(raw.width) : nil
        height = kind == .video ? Int(raw.height) : nil
        frameRate = kind == .video && raw.fps_den > 0 ? Double(raw.fps_num) / Double(raw.fps_den) : nil
        codecs = cString(raw.codecs)
        peakBitrate = Int(raw.peak_bitrate)
        averageBitrate = Int(raw.average_bitrate)
        iframePeakBitrate = iframes.isEmpty ? nil : Int(raw.iframe_peak_bitrate)
        iframeAverageBitrate = iframes.isEmpty ? nil : Int(raw.iframe_average_bitrate)
        audioChannels = raw.audio_channels > 0 ? Int(raw.audio_channels) : nil
        segmentCount = Int(raw.segment_count)
        durationSeconds = raw.duration_s
        audioWaitPeakSeconds = raw.audio_wait_peak_s > 0 ? raw.audio_wait_peak_s : nil
        judgedFrames = Int(raw.judged_frames)
        judgedMSESum = raw.judged_mse_y_sum
        let language = cString(raw.language), name = cString(raw.name)
        self.language = kind == .audio && !language.isEmpty ? language : nil
        self.name = kind == .audio && !name.isEmpty ? name : nil
    }
}

/// A finished HLS package: a directory with master.m3u8 (and, with several codecs, a
/// master-<codec>.m3u8 per codec) and one folder per rendition.
public struct HLSPackage: Sendable, Equatable {
    public var directory: String
    public var masterPlaylist: String { directory + "/master.m3u8" }
    public var renditions: [HLSRendition]
    public var durationSeconds: Double
    /// True when packaged by stream copy (no re-encode).
    public var streamCopied: Bool
    /// The DASH manifest beside the master, when asked for.
    public var dashManifest: String? = nil
    public var subtitles: [SubtitleRendition] = []
    /// Added to every timestamp of the package (B-frame delay, AAC priming).
    public var timelineOffsetSeconds: Double = 0
    /// What quality control found (nil: not asked, or a stream copy: nothing decoded). Raw for a
    /// part of a split job: `QualityControlReport.finished` joins the parts.
    public var qualityControl: QualityControlReport? = nil
    /// Encrypted packages: the keys, in segment order (empty: in the clear).
    public var keys: [HLSKey] = []
    /// The animated preview `HLSSettings.preview` asked for, made from the ladder's decode (nil:
    /// not asked, or not made: a stream copy decodes nothing).
    public var preview: AnimatedPreview? = nil
}

/// Encodes (or stream-copies) an input into an HLS package with our own master playlist.
public enum HLSPackager {
    /// Writes the package into `outputDirectory`, which must not exist yet. Work happens in a
    /// staging directory beside it, renamed into place only when everything is written, so a
    /// failure leaves nothing behind.
    public static func package(
        input: String, outputDirectory: String, rungs: [VideoRung], settings: EncodeSettings = EncodeSettings(),
        hls: HLSSettings = HLSSettings(), limits: MediaLimits = MediaLimits(), subtitles: [SubtitleSource] = [],
        progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> HLSPackage {
        guard rungs.count < Int(MW_MAX_RENDITIONS) else {
            throw MediaError(code: .invalidArgument, message: "at most \(Int(MW_MAX_RENDITIONS) - 1) rungs")
        }
        guard EncodeSettings.presets.contains(settings.preset) else {
            throw MediaError(code: .invalidArgument, message: "unknown x264 preset \(settings.preset)")
        }
        let staging = try StagingDirectory(for: outputDirectory)
        do throws(MediaError) {
            var result: mw_package_result? = nil
            // A copy is tried when one rung is asked for; the shim refuses it (MEDIA_COPY_NOT_POSSIBLE)
            // unless the source already is what an encode would make.
            if hls.packaging != .encode, rungs.count == 1, hls.part == .whole {
                do {
                    result = try await packageCopy(input: input, directory: staging.path, rung: rungs[0], settings: settings,
                                                   hls: hls, limits: limits, progress: progress)
                } catch where error.code == .copyNotPossible && hls.packaging == .auto {
                    try staging.reset()
                }
            } else if hls.packaging == .copy {
                throw MediaError(code: .copyNotPossible, message: "stream copy packages exactly one rung")
            }
            if result == nil {
                result = try await packageEncode(input: input, directory: staging.path, rungs: rungs, settings: settings,
                                                 hls: hls, limits: limits, progress: progress)
            }
            let raw = result!
            let renditions = withUnsafeBytes(of: raw.renditions) { buffer in
                Array(buffer.bindMemory(to: mw_rendition_info.self).prefix(Int(raw.rendition_count))).map(HLSRendition.init)
            }
            // A part of a split package has no master of its own: the stitch writes the package's.
            // Subtitles go with the whole package, or with the audio part of a split one.
            var subtitleRenditions: [SubtitleRendition] = []
            if !subtitles.isEmpty, hls.part == .whole || hls.part == .audio {
                subtitleRenditions = try await SubtitleTracks.make(
                    subtitles, directory: staging.path, duration: raw.duration_s, segmentSeconds: hls.targetDurationSeconds,
                    timelineOffset: raw.timeline_offset_s, limits: limits)
            }
            if hls.part == .whole {
                try write(MasterPlaylist.render(renditions, subtitles: subtitleRenditions), to: staging.path + "/master.m3u8")
                for master in MasterPlaylist.perCodec(renditions, subtitles: subtitleRenditions) {
                    try write(master.text, to: staging.path + "/" + master.name)
                }
                if hls.dash {
                    let text = subtitleRenditions.map { DASHManifest.Track(subtitles: $0) }
                    let period = DASHManifest.Period(start: 0, tracks: try dashTracks(renditions, directory: staging.path) + text)
                    for manifest in DASHManifest.manifests([period], duration: raw.duration_s, offset: raw.timeline_offset_s) {
                        try write(manifest.text, to: staging.path + "/" + manifest.name)
                    }
                }
            }
            try staging.commit()
            return HLSPackage(directory: outputDirectory, renditions: renditions, durationSeconds: raw.duration_s,
                              streamCopied: raw.stream_copied != 0,
                              dashManifest: hls.dash && hls.part == .whole ? outputDirectory + "/" + DASHManifest.fileName : nil,
                              subtitles: subtitleRenditions, timelineOffsetSeconds: raw.timeline_offset_s,
                              qualityControl: hls.qualityControl?.enabled == true && raw.stream_copied == 0 ? QualityControlReport(raw.qc) : nil,
                              preview: raw.preview_made != 0 ? AnimatedPreview(raw.preview) : nil)
        } catch {
            staging.discard()
            // The preview was moved into place by the shim: a failed package leaves nothing behind.
            if let preview = hls.preview { try? FileManager.default.removeItem(atPath: preview.path) }
            throw error
        }
    }

    /// The DASH view of each rendition: the segments its media playlist lists.
    private static func dashTracks(_ renditions: [HLSRendition], directory: String) throws(MediaError) -> [DASHManifest.Track] {
        try renditions.map { rendition throws(MediaError) in
            guard rendition.kind == .audio || rendition.audioChannels == nil else {
                throw MediaError(code: .invalidArgument, message: "DASH needs the audio apart from the video (not muxed)")
            }
            let folder = String(rendition.playlist.split(separator: "/").first ?? "")
            guard let playlist = try? String(contentsOfFile: directory + "/" + rendition.playlist, encoding: .utf8),
                  FileManager.default.fileExists(atPath: directory + "/" + folder + "/init.mp4") else {
                throw MediaError(code: .invalidArgument, message: "DASH needs fMP4 segments with an init segment")
            }
            return DASHManifest.Track(rendition, id: folder, initialization: folder + "/init.mp4",
                                      media: folder + "/seg-$Number%05d$.m4s", startNumber: 0,
                                      durations: HLSMediaPlaylist(parsing: playlist).segments.map(\.duration))
        }
    }

    private static func packageEncode(
        input: String, directory: String, rungs: [VideoRung], settings: EncodeSettings, hls: HLSSettings, limits: MediaLimits,
        progress: (@Sendable (Double) -> Void)?
    ) async throws(MediaError) -> mw_package_result {
        let shimRungs = rungs.map(\.shimValue)
        let callbacks = try await ShimCall.run(PackageCallbacks(progress: progress)) { callbacks, token, message in
            var shimSettings = settings.shimValue
            var shimHLS = hls.shimValue
            var shimLimits = limits.shimValue
            return shimRungs.withUnsafeBufferPointer { buffer in
                mw_package_hls(input, directory, buffer.baseAddress, Int32(buffer.count), &shimSettings, &shimHLS, &shimLimits,
                               token.raw, shimProgressCallback, callbacks.pointer, callbacks.result, message, 512)
            }
        }
        return callbacks.result.pointee
    }

    private static func packageCopy(
        input: String, directory: String, rung: VideoRung, settings: EncodeSettings, hls: HLSSettings, limits: MediaLimits,
        progress: (@Sendable (Double) -> Void)?
    ) async throws(MediaError) -> mw_package_result {
        let shimRung = rung.shimValue
        let callbacks = try await ShimCall.run(PackageCallbacks(progress: progress)) { callbacks, token, message in
            var rungValue = shimRung
            var shimSettings = settings.shimValue
            var shimHLS = hls.shimValue
            var shimLimits = limits.shimValue
            return mw_package_hls_copy(input, directory, &rungValue, &shimSettings, &shimHLS, &shimLimits, token.raw,
                                       shimProgressCallback, callbacks.pointer, callbacks.result, message, 512)
        }
        return callbacks.result.pointee
    }

    /// Encrypts a finished package's segments (HLS AES-128) and writes its masters again without
    /// the I-frame variants. Done after the quality report has read the segments in the clear.
    public static func encrypt(_ package: HLSPackage, with encryption: SegmentEncryption) async throws(MediaError) -> HLSPackage {
        guard package.dashManifest == nil else {
            throw MediaError(code: .invalidArgument, message: "HLS AES-128 is not for a package with DASH (DASH players need CENC)")
        }
        var encrypted = package
        encrypted.keys = try await encryption.apply(directory: package.directory, renditions: &encrypted.renditions)
        try write(MasterPlaylist.render(encrypted.renditions, subtitles: package.subtitles), to: package.masterPlaylist)
        for master in MasterPlaylist.perCodec(encrypted.renditions, subtitles: package.subtitles) {
            try write(master.text, to: package.directory + "/" + master.name)
        }
        return encrypted
    }

    private static func write(_ text: String, to path: String) throws(MediaError) {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw MediaError(code: .outputFailed, message: "cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// Holds the shim's package result (several KB: kept off the stack).
final class PackageCallbacks: ShimCallbacks, @unchecked Sendable {
    let result = UnsafeMutablePointer<mw_package_result>.allocate(capacity: 1)

    required init(progress: (@Sendable (Double) -> Void)?) {
        result.initialize(to: mw_package_result())
        super.init(progress: progress)
    }

    deinit { result.deallocate() }
}
