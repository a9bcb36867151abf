import Foundation
import JobContract
import Metrics
import Storage

/// `transcode`, the upload pipeline: HEAD the input (size limit, `meta_movie_id`), download it,
/// probe, one-pass ladder to HLS (or stream-copy packaging), poster, thumbnails and storyboard,
/// optional MP4 renditions, upload everything into a new version `<output>/<file_id>/v/<id>/`;
/// publication then writes the stable master `<output>/<file_id>/hls/master.m3u8` and
/// `TranscodeCompleted`. A failed attempt's version is trash for the janitor.
///
/// Options: `TranscodeJobOptions` (contracts/options/transcode.schema.json).
public struct TranscodeJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    struct Plan {
        var heights: [Int]?
        var hls = HLSSettings()
        var settings = EncodeSettings()
        var thumbnails = 5
        var storyboard = true
        var mp4Heights: [Int] = []
    }

    static func plan(_ options: TranscodeJobOptions) -> Plan {
        var plan = Plan()
        plan.heights = options.renditions
        plan.mp4Heights = options.mp4
        if let format = options.segmentFormat { plan.hls.segmentFormat = format == .ts ? .ts : .fmp4 }
        // Encrypted packages are MPEG-TS (the options refuse fMP4 with encryption: see check()).
        if options.encryption != nil { plan.hls.segmentFormat = .ts }
        if let target = options.segmentDurationSeconds { plan.hls.targetDurationSeconds = target }
        if let audio = options.audio { plan.hls.audioMuxed = audio == .muxed }
        if let packaging = options.packaging {
            switch packaging {
            case .auto: plan.hls.packaging = .auto
            case .encode: plan.hls.packaging = .encode
            case .copy: plan.hls.packaging = .copy
            }
        }
        if options.dash {
            plan.hls.dash = true
            // A stream copy keeps audio and video in one track; DASH reads them apart.
            if plan.hls.packaging == .auto { plan.hls.packaging = .encode }
        }
        // Loudness is a re-encode of the audio: a stream copy cannot do it.
        if options.loudness != nil, plan.hls.packaging == .auto { plan.hls.packaging = .encode }
        if options.qc.enabled {
            plan.hls.qualityControl = options.qc
            // Asked for by name: the package is encoded (a stream copy decodes nothing to look at).
            if options.qcRequested, plan.hls.packaging == .auto { plan.hls.packaging = .encode }
        }
        if let preset = options.preset { plan.settings.preset = preset }
        plan.settings.maxFPS = options.maxFPS
        plan.thumbnails = options.thumbnails
        plan.storyboard = options.storyboard
        return plan
    }

    /// The upload's text subtitle streams and the job's sidecar files (downloaded like the input).
    static func subtitleSources(_ options: TranscodeJobOptions, text: [SubtitleSource], io: JobIO) async throws(JobFailure) -> [SubtitleSource] {
        var sources = text
        for (index, sidecar) in options.subtitles.enumerated() {
            let location: StorageLocation
            do {
                location = try StorageLocation(parsing: sidecar.url)
            } catch {
                throw JobFailure(code: "JOB_INVALID_FIELD", message: "options.subtitles[\(index)].url: \(error.message)", retryable: false)
            }
            let path = try await io.fetch(location, as: "subtitles-\(index)").path
            sources.append(SubtitleSource(path: path, streamIndex: nil, language: sidecar.language, name: sidecar.name, isDefault: sidecar.isDefault))
        }
        return sources
    }

    public func run(_ job: JobContext) async throws -> JobResult {
        if job.delivery.stage == "stitch" { return try await SplitTranscode.stitch(job: job, pipeline: pipeline) }
        let options = try job.options(TranscodeJobOptions.self)
        let plan = Self.plan(options)
        let io = try JobIO(pipeline: pipeline, job: job)
        return try await runMediaJob(io: io) {
            let version = try io.newVersion(hasStableMaster: true)
            let prefix = version.url
            try TranscodeCaptions.check(options.captions, settings: pipeline.speechRecognition)
            let encryption = try TranscodeEncryption.settings(options.encryption, keys: pipeline.hlsKeys, fileID: io.fileID, version: version)
            let (path, object) = try await io.fetchInput()
            let movieID = try MovieID.resolve(objectMetadata: object.metadata, jobMovieID: job.envelope["movie_id"]?.stringValue)
            var annotations = ["file_id": io.fileID]
            if let movieID { annotations["meta_movie_id"] = movieID }
            try await job.annotate(annotations)
            await job.progress(0.1)

            let info = try await job.trace.measure("probe") { span in
                let info = try await MediaProbe.probe(path: path, limits: pipeline.mediaLimits)
                span.set(TraceAttributes.mediaDuration, info.durationSeconds ?? 0)
                return info
            }
            var plan = plan
            do {
                plan.hls.audioStreams = try AudioTracks.streams(info, picks: options.audioTracks)
            } catch {
                throw JobFailure(code: "JOB_INVALID_FIELD", message: "options.audio_tracks: \(error)", retryable: false)
            }
            // A stream copy keeps one audio track muxed with the video.
            if plan.hls.audioStreams.count > 1, plan.hls.packaging == .auto { plan.hls.packaging = .encode }
            if plan.hls.packaging == .copy { plan.hls.audioStreams = Array(plan.hls.audioStreams.prefix(1)) }
            let (textSubtitles, bitmapSubtitles) = SubtitleTracks.sources(info, path: path)
            var warnings = SubtitleTracks.warnings(skipping: bitmapSubtitles)
            let boxes = plan.heights.map { heights in VideoLadder.apple.filter { heights.contains($0.maxHeight) } } ?? VideoLadder.rungs(for: info)
            var rungs = VideoLadder.rungs(boxes, codecs: options.codecs)
            // A per-title ladder: rungs read off the rate-quality curves measured on samples of the title.
            var ladderChoice: LadderChoice?
            if options.ladder == .perTitle, !info.videoStreams.isEmpty {
                let choice = try await PerTitleLadder.plan(
                    input: path, info: info, boxes: boxes, codecs: options.codecs, targetPSNR: options.targetPSNR, settings: plan.settings,
                    workDirectory: io.directory + "/per-title", limits: pipeline.mediaLimits)
                ladderChoice = choice
                rungs = choice.rungs
                // Its rungs are encodes: never a stream copy in their place.
                plan.hls.packaging = .encode
            }
            // A long encode is shared by the pool: parts run by any worker, then a stitch.
            if let split = SplitTranscode.plan(options: options, info: info, rungs: rungs, hls: plan.hls, settings: plan.settings,
                                               minimumSeconds: pipeline.splitMinimumSeconds, canSplit: job.canSplit) {
                return try await SplitTranscode.fanOut(job: job, version: version, options: options, info: info, object: object, rungs: rungs,
                                                       settings: plan.settings, hls: plan.hls, chunkSeconds: split.chunkSeconds,
                                                       duration: split.duration, warnings: warnings, ladder: ladderChoice?.json)
            }
            // Loudness: every audio rendition measured, then one gain each (a split job's audio part does its own).
            var loudness: LoudnessNormalization?
            if let wanted = options.loudness, !plan.hls.audioStreams.isEmpty {
                let streams = plan.hls.audioStreams
                loudness = try await job.trace.measure("loudness") { _ in
                    try await LoudnessNormalization.plan(input: path, streams: streams, options: wanted, limits: pipeline.mediaLimits)
                }
                plan.hls.audioGainsDB = loudness?.gains ?? []
                plan.hls.audioLimitsDB = loudness?.limits ?? []
            }
            // Sidecars are fetched only here: a split job's audio part fetches its own.
            var subtitles = try await Self.subtitleSources(options, text: textSubtitles, io: io)
            // Automatic captions: the main audio track heard by the worker's engine, one more subtitle rendition.
            var captionsReport: JSONValue?
            if let wanted = options.captions, wanted.auto, plan.hls.audioStreams.isEmpty {
                warnings.append("options.captions.auto: the input has no audio: no automatic captions")
            }
            if let wanted = options.captions, wanted.auto, let stream = plan.hls.audioStreams.first {
                let made = try await job.trace.measure("captions") { _ in
                    try await TranscodeCaptions.make(wanted, input: path, stream: stream, io: io, pipeline: pipeline)
                }
                subtitles.append(made.source)
                captionsReport = made.report
            }
            let output = io.directory + "/out"
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            // The animated preview rides the ladder's decode (frames taken as they go to the rungs); the
            // waveform reads the audio on its own while the ladder encodes.
            let hasVideo = !info.videoStreams.isEmpty
            let previewTarget = TranscodePreviews.target(options.preview, hasVideo: hasVideo, output: output)
            plan.hls.preview = previewTarget
            async let waveformMade = TranscodePreviews.waveform(options.preview, hasAudio: !info.audioStreams.isEmpty, input: path,
                                                                durationSeconds: info.durationSeconds ?? 0, output: output, prefix: prefix,
                                                                limits: pipeline.mediaLimits)
            let encodeStarted = ContinuousClock.now
            var package = try await job.trace.measure("encode", attributes: [TraceAttributes.rungs: .string(TraceAttributes.names(of: rungs))]) { _ in
                try await HLSPackager.package(
                    input: path, outputDirectory: output + "/hls", rungs: rungs, settings: plan.settings, hls: plan.hls,
                    limits: pipeline.mediaLimits, subtitles: subtitles) { fraction in Task { await job.progress(0.1 + fraction * 0.6) } }
            }

            // Encode speed as a multiple of real time (media seconds per wall second).
            let elapsed = ContinuousClock.now - encodeStarted
            let encodeSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if encodeSeconds > 0, package.durationSeconds > 0 {
                Recorder(label: "mw_encode_speed_realtime", dimensions: [("copy", package.streamCopied ? "1" : "0")])
                    .record(package.durationSeconds / encodeSeconds)
            }
            // The quality report: a sample of every encoded rendition's segments against the source.
            var quality: QualityReport?
            if !package.streamCopied, hasVideo, options.qualitySample > 0 {
                let segments = try await QualityMeter.measure(
                    input: path, directory: package.directory, renditions: package.renditions, fraction: options.qualitySample,
                    settings: plan.settings, timelineOffset: package.timelineOffsetSeconds, limits: pipeline.mediaLimits)
                quality = QualityReport(sample: options.qualitySample, segments: segments)
            }
            // The animated preview: the ladder's, or, after a stream copy, one read now while the stills are made.
            let encoded = package
            async let animatedPreview = TranscodePreviews.animated(madeBy: encoded, target: previewTarget, input: path, prefix: prefix,
                                                                   limits: pipeline.mediaLimits)
            // Encrypted after the quality report has read the segments in the clear.
            if let encryption { package = try await HLSPackager.encrypt(package, with: encryption) }
            await job.progress(0.75)
            let stills = hasVideo
                ? try await TranscodeStills.make(input: path, output: output, prefix: prefix, thumbnails: plan.thumbnails,
                                                 storyboard: plan.storyboard, limits: pipeline.mediaLimits)
                : [:]
            var mp4s: [JSONValue] = []
            // MP4 renditions carry the main audio track (the HLS package's first) with its loudness correction.
            var mp4Settings = plan.settings
            mp4Settings.audioStream = plan.hls.audioStreams.first
            if let main = loudness?.renditions.first, main.stream == plan.hls.audioStreams.first {
                mp4Settings.audioGainDB = main.gainDB
                mp4Settings.audioLimitDB = main.limiterDB
            }
            for height in plan.mp4Heights where hasVideo {
                guard let rung = VideoLadder.apple.first(where: { $0.maxHeight == height }) else { continue }
                let rendition = try await MP4Transcoder.transcode(input: path, outputPath: output + "/mp4-\(height)p.mp4", rung: rung,
                                                                  settings: mp4Settings, limits: pipeline.mediaLimits)
                mp4s.append(.object(["url": .string(prefix.appending("mp4-\(height)p.mp4").description),
                                     "resolution": .string("\(rendition.width)x\(rendition.height)"), "codecs": .string(rendition.codecs)]))
            }
            var previews: [String: JSONValue] = [:]
            if let waveform = try await waveformMade { previews["waveform"] = waveform }
            if let animated = try await animatedPreview { previews["preview"] = animated }
            await job.progress(0.85)
            // Keys are kept before the package is uploaded: a playlist never names a key not there yet.
            var encryptionReport: JSONValue?
            if let wanted = options.encryption {
                encryptionReport = try await TranscodeEncryption.keep(package.keys, options: wanted, io: io, settings: pipeline.hlsKeys, version: version)
            }
            try await io.upload(output, to: version) { fraction in Task { await job.progress(0.85 + fraction * 0.15) } }
            let master = try io.stableMaster(of: version, packageMaster: output + "/hls/master.m3u8")

            let renditions = TranscodeOutputs.renditions(package.renditions, prefix: prefix)
            var outputs = stills
            // The stable name plays whatever is published last; the version's own master stays this one.
            TranscodeOutputs.addMasters(version, to: &outputs)
            if !mp4s.isEmpty { outputs["mp4"] = .array(mp4s) }
            outputs.merge(previews) { $1 }
            TranscodeOutputs.addCodecMasters(package.renditions, prefix: prefix, to: &outputs)
            if package.dashManifest != nil { TranscodeOutputs.addDASH(package.renditions, prefix: prefix, to: &outputs) }
            TranscodeOutputs.addSubtitles(package.subtitles.map { ($0, "hls/" + $0.wholeFile) }, prefix: prefix, to: &outputs)
            var data: [String: JSONValue] = [
                "file_id": .string(io.fileID), "meta_movie_id": movieID.map(JSONValue.string) ?? .null,
                "input": .string(io.input?.description ?? ""), "duration_s": .double(((info.durationSeconds ?? package.durationSeconds) * 1000).rounded() / 1000),
                "stream_copied": .bool(package.streamCopied), "renditions": .array(renditions), "outputs": .object(outputs), "stable_urls": TranscodeOutputs.stableURLs(version),
                "version": .string(version.id), "version_url": .string(version.url.description),
                "warnings": .array(warnings.map(JSONValue.string)),
            ]
            if let quality { data["quality"] = quality.json { prefix.appending("hls/\($0.rendition)/\($0.worst.segment)").description } }
            if let ladderChoice { data["ladder"] = ladderChoice.json }
            if let report = package.qualityControl { data["qc"] = QualityControlReport.finished([report], options: options.qc).json }
            if let loudness { data["loudness"] = loudness.json(languages: TranscodeOutputs.languages(info)) }
            if let encryptionReport { data["encryption"] = encryptionReport }
            if let captionsReport { data["captions"] = captionsReport }
            return JobResult(data: .object(data), version: version, stableObjects: master.map { [$0] } ?? [])
        }
    }
}
