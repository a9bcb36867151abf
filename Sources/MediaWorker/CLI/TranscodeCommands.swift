import JobContract
import ArgumentParser
import CFFmpegShim
import Foundation

/// Encoder options shared by `hls` and `mp4`.
struct EncodeOptions: ParsableArguments {
    @Option(help: "x264 preset.") var preset = "veryfast"
    @Option(help: "Frame-rate cap.") var maxFps: Double?
    @Option(help: "Keyframe interval in seconds.") var gop: Double = 2
    @Option(help: "Audio bits/s.") var audioBitrate = 128_000

    var settings: EncodeSettings {
        var settings = EncodeSettings()
        settings.preset = preset
        settings.maxFPS = maxFps
        settings.gopSeconds = gop
        settings.audioBitrate = audioBitrate
        return settings
    }
}

/// Parses "1080,720,360": rungs of the default ladder by height (short side); none given, the
/// ladder up to the source (which is probed for it).
func ladderRungs(_ text: String?, input: String) async throws -> [VideoRung] {
    guard let text else { return VideoLadder.rungs(for: try await MediaProbe.probe(path: input)) }
    return try text.split(separator: ",").map { part in
        guard let height = Int(part.trimmingCharacters(in: .whitespaces)),
              let rung = VideoLadder.apple.first(where: { $0.maxHeight == height }) else {
            throw ValidationError("--rungs takes heights of the default ladder: \(VideoLadder.apple.map { String($0.maxHeight) }.joined(separator: ","))")
        }
        return rung
    }
}

/// `media-worker hls FILE --out DIR`: an HLS package as the transcode job makes it.
struct HLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hls", abstract: "Package a video as HLS (ABR ladder, master playlist).")
    @Argument var file: String
    @Option(help: "The package directory (must not exist).") var out: String
    @Option(help: "Rung heights, e.g. 1080,720,360 (default: the ladder up to the source).") var rungs: String?
    @Option(help: "fmp4 or ts.") var segments: HLSSettings.SegmentFormat = .fmp4
    @Option(help: "Target segment duration in seconds.") var target: Double = 6
    @Flag(help: "Mux the audio into every variant instead of one shared rendition.") var muxedAudio = false
    @Option(help: "auto, encode or copy.") var packaging: HLSSettings.Packaging = .auto
    @Option(help: "Video codecs of the ladder, e.g. h264,hevc,av1 (h264 always included).") var codecs: String = "h264"
    @Flag(help: "Write a DASH manifest (manifest.mpd) beside the master.") var dash = false
    @Option(help: "A sidecar subtitle file and its language, FILE:LANG (repeatable); the input's text subtitle streams are always packaged.")
    var subtitles: [String] = []
    @Option(help: "Share of segments measured against the source for the quality report (0: none, 1: all).") var qualitySample: Double = 0.1
    @Flag(help: "A per-title ladder: rungs chosen from rate-quality curves measured on samples of the input.") var perTitle = false
    @Option(help: "With --per-title: the top rung's luma PSNR (default: the fixed ladder's top quality).") var targetPsnr: Double?
    @Flag(help: "Quality control on the decode: black, frozen and silent stretches (2 s or more), printed as \"qc\".") var qc = false
    @Option(help: "Loudness normalisation of every audio rendition to this many LUFS (true peak under -1 dBTP), printed as \"loudness\".")
    var loudness: Double?
    @Flag(help: "Previews beside the package: preview.webp (animated excerpts) and waveform.json (audiowaveform), printed as \"preview\".")
    var preview = false
    @OptionGroup var encode: EncodeOptions

    var videoCodecs: [VideoCodec] {
        get throws {
            let parsed = try codecs.split(separator: ",").map { part in
                guard let codec = VideoCodec(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--codecs takes h264, hevc and av1")
                }
                return codec
            }
            return Array(Set(parsed + [.h264])).sorted()
        }
    }

    func run() async throws {
        mw_log_set_level(-8)
        do {
            var hls = HLSSettings()
            hls.segmentFormat = segments
            hls.targetDurationSeconds = target
            hls.audioMuxed = muxedAudio
            hls.packaging = packaging
            hls.dash = dash
            if qc { hls.qualityControl = QualityControlOptions() }
            // Every audio stream and text subtitle stream of the source, as a transcode job makes them.
            let info = try await MediaProbe.probe(path: file)
            hls.audioStreams = try AudioTracks.streams(info, picks: nil)
            var subtitleSources = SubtitleTracks.sources(info, path: file).text
            for sidecar in subtitles {
                let (path, language) = sidecar.lastIndex(of: ":").map { (String(sidecar[..<$0]), String(sidecar[sidecar.index(after: $0)...])) } ?? (sidecar, "")
                subtitleSources.append(SubtitleSource(path: path, streamIndex: nil, language: language.isEmpty ? nil : language, name: nil))
            }
            let boxes = try await ladderRungs(rungs, input: file)
            var ladder = VideoLadder.rungs(boxes, codecs: try videoCodecs)
            var choice = "null"
            let started = ContinuousClock.now
            if perTitle {
                let chosen = try await PerTitleLadder.plan(
                    input: file, info: info, boxes: boxes, codecs: try videoCodecs, targetPSNR: targetPsnr, settings: encode.settings,
                    workDirectory: out + ".per-title", limits: MediaLimits())
                ladder = chosen.rungs
                choice = chosen.json.jsonText
                hls.packaging = .encode
            }
            var normalization: LoudnessNormalization?
            if let loudness, !hls.audioStreams.isEmpty {
                var wanted = LoudnessOptions()
                wanted.targetLUFS = loudness
                normalization = try await LoudnessNormalization.plan(input: file, streams: hls.audioStreams, options: wanted)
                hls.audioGainsDB = normalization?.gains ?? []
                hls.audioLimitsDB = normalization?.limits ?? []
                if hls.packaging == .auto { hls.packaging = .encode }
            }
            // As transcode jobs do: the animated preview from the ladder's decode, the waveform read
            // while the ladder encodes; both written aside until the package is in place.
            let aside = out + ".previews"
            if preview, !info.videoStreams.isEmpty {
                try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
                hls.preview = HLSSettings.PreviewTarget(settings: AnimatedPreview.Settings(), path: aside + "/preview.webp")
            }
            async let previewsMade = Self.waveform(preview ? file : nil, info: info, aside: aside)
            let encodeStarted = ContinuousClock.now
            let package = try await HLSPackager.package(
                input: file, outputDirectory: out, rungs: ladder, settings: encode.settings, hls: hls, subtitles: subtitleSources)
            let encodeSeconds = (ContinuousClock.now - encodeStarted).seconds
            let probeSeconds = (encodeStarted - started).seconds
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let renditions = String(decoding: try encoder.encode(package.renditions), as: UTF8.self)
            var quality = "null"
            if !package.streamCopied, qualitySample > 0 {
                let segments = try await QualityMeter.measure(
                    input: file, directory: out, renditions: package.renditions, fraction: qualitySample, settings: encode.settings,
                    timelineOffset: package.timelineOffsetSeconds, limits: MediaLimits())
                quality = QualityReport(sample: qualitySample, segments: segments).json { $0.rendition + "/" + $0.worst.segment }.jsonText
            }
            var previews = try await previewsMade
            if let target = hls.preview {
                // A stream copy decodes nothing: the preview reads the input itself.
                let made: AnimatedPreview
                if let fromLadder = package.preview {
                    made = fromLadder
                } else {
                    made = try await AnimatedPreview.make(input: file, outputPath: target.path, settings: target.settings)
                }
                previews["webp"] = .object(["frames": .integer(made.frames), "width": .integer(made.width), "height": .integer(made.height)])
            }
            if preview {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: aside)) ?? [] {
                    try FileManager.default.moveItem(atPath: aside + "/" + name, toPath: out + "/" + name)
                }
                try? FileManager.default.removeItem(atPath: aside)
            }
            let previewText = preview ? JSONValue.object(previews).jsonText : "null"
            let loudnessText = normalization?.json().jsonText ?? "null"
            let qcReport = package.qualityControl.map { QualityControlReport.finished([$0], options: QualityControlOptions()).json.jsonText } ?? "null"
            writeLine("{\"master\":\(JSONValue.string(package.masterPlaylist).jsonText),\"stream_copied\":\(package.streamCopied),\"duration_s\":\(package.durationSeconds),\"renditions\":\(renditions),\"quality\":\(quality),\"qc\":\(qcReport),\"loudness\":\(loudnessText),\"preview\":\(previewText),\"ladder\":\(choice),\"encode_s\":\(encodeSeconds),\"probe_s\":\(probeSeconds)}")
        } catch let error as MediaError {
            printError("error \(error.code.rawValue): \(error.message)")
            throw ExitCode(1)
        }
    }
}

extension HLSCommand {
    /// `--preview`'s waveform, written in `aside` (nil file: none).
    static func waveform(_ file: String?, info: MediaInfo, aside: String) async throws -> [String: JSONValue] {
        guard let file, !info.audioStreams.isEmpty else { return [:] }
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
        let waveform = try await AudioWaveform.make(input: file, pixelsPerSecond: 100, bits: 8, durationSeconds: info.durationSeconds ?? 0)
        try waveform.json.write(toFile: aside + "/waveform.json", atomically: true, encoding: .utf8)
        return ["waveform": .object(["length": .integer(waveform.pixels)])]
    }
}

/// `media-worker mp4 FILE --out FILE.mp4`.
struct MP4Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mp4", abstract: "Transcode to one MP4 (H.264/AAC, moov first).")
    @Argument var file: String
    @Option(help: "The MP4 to write.") var out: String
    @Option(help: "Bounding box width.") var maxWidth = 1920
    @Option(help: "Bounding box height.") var maxHeight = 1080
    @Option(help: "Constant quality (when no --bitrate).") var crf: Double = 23
    @Option(help: "Average bits/s.") var bitrate: Int?
    @Option(help: "Peak bits/s (VBV).") var maxBitrate: Int?
    @OptionGroup var encode: EncodeOptions

    func run() async throws {
        mw_log_set_level(-8)
        do {
            let rung = VideoRung(maxWidth: maxWidth, maxHeight: maxHeight, bitrate: bitrate, maxBitrate: maxBitrate, crf: crf)
            let result = try await MP4Transcoder.transcode(input: file, outputPath: out, rung: rung, settings: encode.settings)
            writeLine(JSONValue.object([
                "path": .string(result.path), "width": .integer(result.width), "height": .integer(result.height),
                "frame_rate": .double(result.frameRate), "codecs": .string(result.codecs), "duration_s": .double(result.durationSeconds),
            ]).jsonText)
        } catch {
            printError("error \(error.code.rawValue): \(error.message)")
            throw ExitCode(1)
        }
    }
}

extension HLSSettings.SegmentFormat: ExpressibleByArgument {}
extension HLSSettings.Packaging: ExpressibleByArgument {}
