import Crypto
import Foundation
import JobContract
import Storage

/// A part of a split transcode (`transcode_chunk`: the video of one chunk for every rung;
/// `transcode_audio`: the audio rendition and the stills), run like any job: its own lease,
/// retries, timeout and progress. It writes into a folder of its own inside its job's version,
/// recorded before the first upload, and completes with what the stitch needs (its segments,
/// I-frames, figures and the digest of its init segments) and a `TranscodeChunkCompleted`.
public struct TranscodePartJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JobResult {
        let task: PartTask
        do {
            task = try JSONValueDecoder(rootPath: "part").decode(PartTask.self, from: job.envelope["part"] ?? .null)
        } catch {
            throw JobFailure.invalidJob("the part's plan cannot be read: \(error)")
        }
        let io = try JobIO(pipeline: pipeline, job: job)
        let started = ContinuousClock.now
        return try await runMediaJob(io: io) {
            let parentVersion = try StorageLocation(parsing: task.plan.versionURL)
            let version = OutputVersion(partOf: parentVersion, parentID: task.plan.versionID, filePrefix: try io.filePrefix(), asset: task.asset)
            let folder = String(version.url.description.dropFirst(parentVersion.description.count))
            let (path, _, cacheKey) = try await io.fetchSharedInput(fingerprint: task.plan.inputETag)
            defer { if let cacheKey, let cache = pipeline.inputCache { Task { await cache.release(cacheKey) } } }
            await job.progress(0.05)

            let output = io.directory + "/out"
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            var settings = EncodeSettings()
            settings.preset = task.plan.preset
            settings.maxFPS = task.plan.maxFPS
            var hls = HLSSettings()
            hls.packaging = .encode
            hls.targetDurationSeconds = task.plan.segmentSeconds
            hls.timelineOffsetSeconds = task.plan.timelineOffsetSeconds
            hls.audioStreams = task.plan.audioStreams ?? []
            hls.qualityControl = task.plan.qc
            let encodeStarted = ContinuousClock.now
            var stills: JSONValue?
            var loudness: JSONValue?
            var captions: JSONValue?
            var quality: [SegmentQuality]?
            let package: HLSPackage
            switch task.kind {
            case .video:
                guard let chunk = task.chunk else { throw JobFailure.invalidJob("a video part names no chunk") }
                hls.part = .videoRange(start: chunk.start, end: chunk.end)
                package = try await job.trace.measure("encode", attributes: [TraceAttributes.rungs: .string(TraceAttributes.names(of: task.plan.rungs)),
                                                                             TraceAttributes.chunk: .int64(Int64(chunk.index))]) { [hls, settings] _ in
                    try await HLSPackager.package(
                        input: path, outputDirectory: output + "/media", rungs: task.plan.rungs, settings: settings, hls: hls,
                        limits: pipeline.mediaLimits) { fraction in Task { await job.progress(0.05 + fraction * 0.75) } }
                }
                if let sample = task.plan.qualitySample, sample > 0 {
                    quality = try await QualityMeter.measure(
                        input: path, directory: package.directory, renditions: package.renditions, fraction: sample, settings: settings,
                        timelineOffset: package.timelineOffsetSeconds, firstStart: chunk.start, limits: pipeline.mediaLimits)
                }
            case .audio:
                hls.part = .audio
                var subtitles: [SubtitleSource] = []
                for (index, planned) in (task.plan.subtitles ?? []).enumerated() {
                    var source = path
                    if let url = planned.url {
                        let location: StorageLocation
                        do {
                            location = try StorageLocation(parsing: url)
                        } catch {
                            throw JobFailure(code: "JOB_INVALID_FIELD", message: "options.subtitles[\(index)].url: \(error)", retryable: false)
                        }
                        source = try await io.fetch(location, as: "subtitles-\(index)").path
                    }
                    subtitles.append(SubtitleSource(path: source, streamIndex: planned.streamIndex, language: planned.language, name: planned.name,
                                                    isDefault: planned.isDefault))
                }
                if let wanted = task.plan.captions, wanted.auto, task.plan.hasAudio, let stream = hls.audioStreams.first {
                    try TranscodeCaptions.check(wanted, settings: pipeline.speechRecognition)
                    let made = try await job.trace.measure("captions") { _ in
                        try await TranscodeCaptions.make(wanted, input: path, stream: stream, io: io, pipeline: pipeline)
                    }
                    subtitles.append(made.source)
                    captions = made.report
                }
                if let wanted = task.plan.loudness, task.plan.hasAudio, !hls.audioStreams.isEmpty {
                    let streams = hls.audioStreams
                    let planned = try await job.trace.measure("loudness") { _ in
                        try await LoudnessNormalization.plan(input: path, streams: streams, options: wanted, limits: pipeline.mediaLimits)
                    }
                    hls.audioGainsDB = planned.gains
                    hls.audioLimitsDB = planned.limits
                    loudness = planned.json()
                }
                if task.plan.hasAudio {
                    package = try await job.trace.measure("encode", attributes: [TraceAttributes.rungs: "audio"]) { [hls, settings, subtitles] _ in
                        try await HLSPackager.package(
                            input: path, outputDirectory: output + "/media", rungs: [], settings: settings, hls: hls,
                            limits: pipeline.mediaLimits, subtitles: subtitles) { fraction in Task { await job.progress(0.05 + fraction * 0.4) } }
                    }
                } else {
                    package = HLSPackage(directory: output + "/media", renditions: [], durationSeconds: 0, streamCopied: false)
                }
                let made = try await TranscodeStills.make(input: path, output: output + "/stills", prefix: version.url,
                                                          thumbnails: task.plan.thumbnails, storyboard: task.plan.storyboard,
                                                          limits: pipeline.mediaLimits)
                var described = made
                if let previews = task.plan.preview {
                    described.merge(try await TranscodePreviews.make(
                        input: path, options: previews, hasVideo: true, hasAudio: task.plan.hasAudio, durationSeconds: task.plan.durationSeconds,
                        output: output + "/stills", prefix: version.url, limits: pipeline.mediaLimits)) { $1 }
                }
                stills = .object(described)
            }
            let encodeSeconds = (ContinuousClock.now - encodeStarted).seconds
            let renditions = try Self.renditions(of: package, directory: output + "/media", folder: folder)
            let subtitleParts = package.subtitles.map { track in
                PartSubtitle(rendition: track, folder: folder + track.folder + "/",
                             playlist: (try? String(contentsOfFile: output + "/media/" + track.playlist, encoding: .utf8)) ?? "",
                             webvtt: (try? String(contentsOfFile: output + "/media/" + track.wholeFile, encoding: .utf8)) ?? "")
            }
            // The parts' own playlists were read; only the media goes up (the stitch writes the playlists).
            try Self.removePlaylists(in: output + "/media")
            try Self.flatten(output)
            await job.progress(0.85)
            try await io.upload(output, to: version) { fraction in Task { await job.progress(0.85 + fraction * 0.15) } }

            let index = task.chunk?.index
            let result = PartResult(asset: task.asset, start: task.chunk?.start, end: task.chunk?.end ?? (task.kind == .video ? task.plan.durationSeconds : nil),
                                    renditions: renditions, stills: stills, encodeSeconds: (encodeSeconds * 1000).rounded() / 1000,
                                    worker: job.workerID, subtitles: subtitleParts.isEmpty ? nil : subtitleParts, quality: quality,
                                    qc: package.qualityControl, loudness: loudness, captions: captions)
            var summary: [String: JSONValue] = [
                "asset_id": .string(task.asset), "chunk_job_id": .string(job.id), "chunk_attempt": .integer(job.delivery.attempt),
                "encode_s": .double(result.encodeSeconds), "seconds": .double(((ContinuousClock.now - started).seconds * 1000).rounded() / 1000),
            ]
            if let index { summary["index"] = .integer(index) }
            if let start = result.start { summary["start_s"] = .double(start) }
            if let end = result.end { summary["end_s"] = .double((end * 1000).rounded() / 1000) }
            return JobResult(data: try Self.json(result), version: version, assets: [(type: "TranscodeChunkCompleted", data: .object(summary))])
        }
    }

    /// What each rendition of the part made: segments and I-frames read back from its playlists
    /// (URIs made relative to the job's version), the init segment's digest, the shim's figures.
    static func renditions(of package: HLSPackage, directory: String, folder: String) throws(JobFailure) -> [ChunkRendition] {
        var renditions: [ChunkRendition] = []
        for rendition in package.renditions {
            let name = String(rendition.playlist.split(separator: "/").first ?? "")
            let base = folder + name + "/"
            guard let media = try? String(contentsOfFile: directory + "/" + rendition.playlist, encoding: .utf8),
                  let initSegment = FileManager.default.contents(atPath: directory + "/" + name + "/init.mp4") else {
                throw JobFailure(code: "JOB_INTERNAL", message: "the part's \(name) playlist or init segment is missing", retryable: true)
            }
            let iframes = rendition.iframePlaylist.flatMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
            renditions.append(ChunkRendition(
                name: name, width: rendition.width, height: rendition.height, frameRate: rendition.frameRate, codecs: rendition.codecs,
                audioChannels: rendition.audioChannels, initURI: base + "init.mp4",
                initDigest: SHA256.hash(data: initSegment).map { String(format: "%02x", $0) }.joined(),
                segments: PartPlaylist.segments(media, folder: base), iframes: iframes.map { PartPlaylist.iframes($0, folder: base) } ?? [],
                peakBitrate: rendition.peakBitrate, averageBitrate: rendition.averageBitrate,
                iframePeakBitrate: rendition.iframePeakBitrate, iframeAverageBitrate: rendition.iframeAverageBitrate,
                durationSeconds: rendition.durationSeconds, language: rendition.language, title: rendition.name))
        }
        return renditions
    }

    static func removePlaylists(in directory: String) throws(JobFailure) {
        let walker = FileManager.default.enumerator(atPath: directory)
        var playlists: [String] = []
        while let relative = walker?.nextObject() as? String {
            if relative.hasSuffix(".m3u8") { playlists.append(relative) }
        }
        for relative in playlists { try? FileManager.default.removeItem(atPath: directory + "/" + relative) }
    }

    /// `out/media/720p/…` and `out/stills/…` go up as `<part folder>/720p/…` and `<part folder>/poster.jpg`.
    static func flatten(_ output: String) throws(JobFailure) {
        let manager = FileManager.default
        for source in [output + "/media", output + "/stills"] where manager.fileExists(atPath: source) {
            for name in (try? manager.contentsOfDirectory(atPath: source)) ?? [] {
                do {
                    try manager.moveItem(atPath: source + "/" + name, toPath: output + "/" + name)
                } catch {
                    throw JobFailure(code: "JOB_INTERNAL", message: "cannot lay out the part's outputs: \(error)", retryable: true)
                }
            }
            try? manager.removeItem(atPath: source)
        }
    }

    static func json<T: Encodable>(_ value: T) throws(JobFailure) -> JSONValue {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return try JSONValue.parse(Array(try encoder.encode(value)))
        } catch {
            throw JobFailure(code: "JOB_INTERNAL", message: "cannot encode the part's result: \(error)", retryable: true)
        }
    }
}
