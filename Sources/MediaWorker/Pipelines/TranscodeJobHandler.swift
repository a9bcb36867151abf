import Foundation
import Metrics

/// `transcode`, the upload pipeline: HEAD the input (size limit, `meta_movie_id`), download it,
/// probe, one-pass ladder to HLS (or stream-copy packaging), poster, thumbnails and storyboard,
/// optional MP4 renditions, upload everything under `<output>/<file_id>/`, then
/// `TranscodeCompleted`. A failed attempt deletes what it uploaded.
///
/// Options: `renditions` (rung heights from the default ladder, e.g. [720, 360]), `segment_format`
/// (fmp4|ts), `segment_duration_s`, `audio` (shared|muxed), `packaging` (auto|encode|copy),
/// `preset`, `max_fps`, `thumbnails` (count, default 5), `storyboard` (bool, default true),
/// `mp4` (list of heights for MP4 renditions).
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

    static func plan(_ options: [String: JSONValue]) throws(JobFailure) -> Plan {
        var plan = Plan()
        func heights(_ name: String) throws(JobFailure) -> [Int]? {
            guard let value = options[name] else { return nil }
            let allowed = VideoLadder.apple.map(\.maxHeight)
            guard let list = value.arrayValue?.compactMap({ $0.numberValue.map { Int($0) } }), list.count == value.arrayValue?.count,
                  !list.isEmpty, list.count <= 8, list.allSatisfy(allowed.contains) else {
                throw JobFailure.invalidJob("options.\(name) must list heights of the ladder: \(allowed)")
            }
            return list
        }
        plan.heights = try heights("renditions")
        plan.mp4Heights = try heights("mp4") ?? []
        if let format = options["segment_format"] {
            guard let value = format.stringValue.flatMap(HLSSettings.SegmentFormat.init(rawValue:)) else {
                throw JobFailure.invalidJob("options.segment_format must be fmp4 or ts")
            }
            plan.hls.segmentFormat = value
        }
        if let target = options["segment_duration_s"] {
            guard let value = target.numberValue, (1...60).contains(value) else { throw JobFailure.invalidJob("options.segment_duration_s must be 1-60") }
            plan.hls.targetDurationSeconds = value
        }
        if let audio = options["audio"] {
            guard let value = audio.stringValue, ["shared", "muxed"].contains(value) else { throw JobFailure.invalidJob("options.audio must be shared or muxed") }
            plan.hls.audioMuxed = value == "muxed"
        }
        if let packaging = options["packaging"] {
            guard let value = packaging.stringValue.flatMap(HLSSettings.Packaging.init(rawValue:)) else {
                throw JobFailure.invalidJob("options.packaging must be auto, encode or copy")
            }
            plan.hls.packaging = value
        }
        if let preset = options["preset"] {
            guard let value = preset.stringValue, EncodeSettings.presets.contains(value) else { throw JobFailure.invalidJob("options.preset is not an x264 preset") }
            plan.settings.preset = value
        }
        if let fps = options["max_fps"] {
            guard let value = fps.numberValue, (1...240).contains(value) else { throw JobFailure.invalidJob("options.max_fps must be 1-240") }
            plan.settings.maxFPS = value
        }
        if let count = options["thumbnails"] {
            guard let value = count.numberValue, (0...100).contains(value) else { throw JobFailure.invalidJob("options.thumbnails must be 0-100") }
            plan.thumbnails = Int(value)
        }
        if let storyboard = options["storyboard"] {
            guard let value = storyboard.boolValue else { throw JobFailure.invalidJob("options.storyboard must be true or false") }
            plan.storyboard = value
        }
        return plan
    }

    public func run(_ job: JobContext) async throws -> JSONValue {
        let plan = try Self.plan(job.options)
        let io = try JobIO(pipeline: pipeline, job: job)
        let ledger = UploadLedger(storage: pipeline.storage)
        return try await runMediaJob(io: io, ledger: ledger) {
            let prefix = try io.outputPrefix()
            let (path, object) = try await io.fetchInput()
            let movieID = try MovieID.resolve(objectMetadata: object.metadata, jobMovieID: job.envelope["movie_id"]?.stringValue)
            var annotations = ["file_id": io.fileID]
            if let movieID { annotations["meta_movie_id"] = movieID }
            try await job.annotate(annotations)
            await job.progress(0.1)

            let info = try await MediaProbe.probe(path: path, limits: pipeline.mediaLimits)
            let rungs = plan.heights.map { heights in VideoLadder.apple.filter { heights.contains($0.maxHeight) } } ?? VideoLadder.rungs(for: info)
            let output = io.directory + "/out"
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let encodeStarted = ContinuousClock.now
            let package = try await HLSPackager.package(
                input: path, outputDirectory: output + "/hls", rungs: rungs, settings: plan.settings, hls: plan.hls,
                limits: pipeline.mediaLimits) { fraction in Task { await job.progress(0.1 + fraction * 0.6) } }

            // Encode speed as a multiple of real time (media seconds per wall second).
            let elapsed = ContinuousClock.now - encodeStarted
            let encodeSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if encodeSeconds > 0, package.durationSeconds > 0 {
                Recorder(label: "mw_encode_speed_realtime", dimensions: [("copy", package.streamCopied ? "1" : "0")])
                    .record(package.durationSeconds / encodeSeconds)
            }
            var stills: [String: JSONValue] = [:]
            let hasVideo = !info.videoStreams.isEmpty
            if hasVideo {
                let poster = try await MediaStills.poster(input: path, outputPath: output + "/poster.jpg", image: ImageSpec(maxWidth: 1280, maxHeight: 1280),
                                                          limits: pipeline.mediaLimits)
                stills["poster"] = poster.json(url: prefix.appending("poster.jpg"))
                if plan.thumbnails > 0 {
                    try FileManager.default.createDirectory(atPath: output + "/thumbnails", withIntermediateDirectories: true)
                    let images = try await MediaStills.thumbnails(input: path, outputDirectory: output + "/thumbnails", count: plan.thumbnails,
                                                                  image: ImageSpec(maxWidth: 640), limits: pipeline.mediaLimits)
                    stills["thumbnails"] = .array(images.map { image in
                        image.json(url: prefix.appending("thumbnails/" + (image.path.split(separator: "/").last.map(String.init) ?? "")))
                    })
                }
                if plan.storyboard {
                    // The cues name the sprite by its relative URL: both files sit side by side wherever they are served.
                    let board = try await MediaStills.storyboard(input: path, spritePath: output + "/storyboard.jpg", vttPath: output + "/storyboard.vtt",
                                                                 spriteURL: "storyboard.jpg", limits: pipeline.mediaLimits)
                    stills["storyboard"] = .object([
                        "image": .string(prefix.appending("storyboard.jpg").description), "vtt": .string(prefix.appending("storyboard.vtt").description),
                        "tile_width": .number(Double(board.tileWidth)), "tile_height": .number(Double(board.tileHeight)),
                        "tiles": .number(Double(board.count)), "interval_s": .number(board.intervalSeconds),
                    ])
                }
            }
            var mp4s: [JSONValue] = []
            for height in plan.mp4Heights where hasVideo {
                guard let rung = VideoLadder.apple.first(where: { $0.maxHeight == height }) else { continue }
                let rendition = try await MP4Transcoder.transcode(input: path, outputPath: output + "/mp4-\(height)p.mp4", rung: rung,
                                                                  settings: plan.settings, limits: pipeline.mediaLimits)
                mp4s.append(.object(["url": .string(prefix.appending("mp4-\(height)p.mp4").description),
                                     "resolution": .string("\(rendition.width)x\(rendition.height)"), "codecs": .string(rendition.codecs)]))
            }
            await job.progress(0.85)
            _ = try await ledger.uploadTree(output, to: prefix)
            await job.progress(1)

            let renditions: [JSONValue] = package.renditions.map { rendition in
                var fields: [String: JSONValue] = [
                    "kind": .string(rendition.kind.rawValue), "playlist": .string(prefix.appending("hls/" + rendition.playlist).description),
                    "codecs": .string(rendition.codecs), "bandwidth": .number(Double(rendition.peakBitrate)),
                    "average_bandwidth": .number(Double(rendition.averageBitrate)),
                ]
                if let width = rendition.width, let height = rendition.height { fields["resolution"] = .string("\(width)x\(height)") }
                if let rate = rendition.frameRate { fields["frame_rate"] = .number((rate * 1000).rounded() / 1000) }
                return .object(fields)
            }
            var outputs = stills
            outputs["hls_master"] = .string(prefix.appending("hls/master.m3u8").description)
            if !mp4s.isEmpty { outputs["mp4"] = .array(mp4s) }
            return .object([
                "file_id": .string(io.fileID), "meta_movie_id": movieID.map(JSONValue.string) ?? .null,
                "input": .string(io.input?.description ?? ""), "duration_s": .number(((info.durationSeconds ?? package.durationSeconds) * 1000).rounded() / 1000),
                "stream_copied": .bool(package.streamCopied), "renditions": .array(renditions), "outputs": .object(outputs),
            ])
        }
    }
}
