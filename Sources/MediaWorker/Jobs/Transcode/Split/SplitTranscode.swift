import Foundation
import JobContract
import QueueClient
import RedisClient
import Storage

/// A transcode across the whole pool. The job's first run decides (`plan`), records its output
/// version and splits into parts (`fanOut`): one per video chunk and one for the audio and the
/// stills, on the same queue. When the last part completes, the job comes back for its stitch
/// (`stitch`): it writes the playlists and the master into the version the parts filled, and
/// publishes it like any transcode.
enum SplitTranscode {
    /// Whether and how to split: nil runs the transcode in one pass.
    static func plan(options: TranscodeJobOptions, info: MediaInfo, rungs: [VideoRung], hls: HLSSettings, settings: EncodeSettings,
                     minimumSeconds: Double?, canSplit: Bool) -> (chunkSeconds: Double, duration: Double)? {
        guard canSplit, options.allowsSplit, !rungs.isEmpty, let video = info.videoStreams.first else { return nil }
        let duration = info.durationSeconds ?? video.durationSeconds ?? 0
        // `auto` with one rung may be a stream copy, faster than any split: left whole unless
        // the job asks for chunks, which is honoured (the rung is then encoded).
        var explicit = false
        if case .chunks = options.split { explicit = true }
        guard hls.packaging == .encode || (hls.packaging == .auto && (rungs.count > 1 || explicit)) else { return nil }
        let requested: Double?
        switch options.split {
        case .off: return nil
        case .auto:
            guard let minimumSeconds, duration > minimumSeconds else { return nil }
            requested = nil
        case .chunks(let seconds):
            requested = seconds
        }
        let length = SplitPlan.chunkLength(requested: requested, duration: duration, segment: hls.targetDurationSeconds)
        guard duration > length else { return nil }  // one chunk: nothing to share
        return (length, duration)
    }

    static func frameRate(_ info: MediaInfo) -> Double {
        guard let text = info.videoStreams.first?.averageFrameRate ?? info.videoStreams.first?.realFrameRate else { return 25 }
        let parts = text.split(separator: "/").compactMap { Double($0) }
        return parts.count == 2 && parts[1] > 0 ? parts[0] / parts[1] : (parts.first ?? 25)
    }

    /// Records the job's version (its parts write into it) and describes the parts.
    static func fanOut(job: JobContext, version: OutputVersion, options: TranscodeJobOptions, info: MediaInfo, object: ObjectInfo,
                       rungs: [VideoRung], settings: EncodeSettings, hls: HLSSettings,
                       chunkSeconds: Double, duration: Double, warnings: [String] = [], ladder: JSONValue? = nil) async throws -> JobResult {
        try await job.recordVersion(version)
        let plan = SplitPlan(
            chunkSeconds: chunkSeconds, chunks: SplitPlan.chunks(duration: duration, length: chunkSeconds), durationSeconds: duration,
            timelineOffsetSeconds: SplitPlan.timelineOffset(frameRate: min(settings.maxFPS ?? .infinity, frameRate(info))),
            rungs: rungs, preset: settings.preset, maxFPS: settings.maxFPS, segmentSeconds: hls.targetDurationSeconds,
            thumbnails: options.thumbnails, storyboard: options.storyboard, versionID: version.id, versionURL: version.url.description,
            slot: version.slot, stableMaster: version.stableMaster?.description, inputETag: JobIO.fingerprint(object),
            hasAudio: !info.audioStreams.isEmpty, audioStreams: hls.audioStreams, dash: hls.dash,
            subtitles: SubtitleTracks.sources(info, path: "").text.map {
                SplitPlan.PlannedSubtitle(streamIndex: $0.streamIndex, url: nil, language: $0.language, name: $0.name, isDefault: $0.isDefault)
            } + options.subtitles.map { SplitPlan.PlannedSubtitle(streamIndex: nil, url: $0.url, language: $0.language, name: $0.name, isDefault: $0.isDefault) },
            warnings: warnings, qualitySample: options.qualitySample, ladder: ladder, qc: options.qc.enabled ? options.qc : nil,
            preview: options.preview.format == nil && options.preview.waveform == nil ? nil : options.preview, loudness: options.loudness,
            captions: options.captions?.auto == true ? options.captions : nil)
        var envelope = job.envelope.objectValue ?? [:]
        envelope["options"] = nil
        // The parts' attempts link to (or are children of) this attempt's span, in its trace.
        envelope["traceparent"] = nil
        envelope["tracestate"] = nil
        for (name, value) in job.trace.handOn() ?? [:] { envelope[name] = .string(value) }
        // Each part carries its own chunk, not the whole plan's list of chunks nor the ladder's
        // analysis (the stitch reads those from the job's split record): a part's bytes in Redis
        // stay the same however many chunks the job has.
        var partPlan = plan
        partPlan.chunks = []
        partPlan.ladder = nil
        var parts: [JobPart] = []
        func part(_ kind: PartTask.Kind, asset: String, chunk: SplitPlan.Chunk?, work: Double) throws -> JobPart {
            let id = JobPart.id(parent: job.id, attempt: job.delivery.attempt, asset: kind == .audio ? "audio" : "c\(chunk?.index ?? 0)")
            var payload = envelope
            payload["id"] = .string(id)
            payload["type"] = .string(kind == .audio ? PartTask.audioType : PartTask.videoType)
            payload["part"] = try TranscodePartJobHandler.json(PartTask(kind: kind, parent: job.id, asset: asset, chunk: chunk, plan: partPlan))
            return JobPart(id: id, type: kind == .audio ? PartTask.audioType : PartTask.videoType,
                           work: .milliseconds(Int64(work * 1000)), payload: JSONValue.object(payload).jsonText, asset: asset)
        }
        for chunk in plan.chunks {
            parts.append(try part(.video, asset: String(chunk.index), chunk: chunk, work: (chunk.end ?? duration) - chunk.start))
        }
        // The audio and the stills: a fraction of a chunk's work per second of input.
        if !info.audioStreams.isEmpty || true {
            parts.append(try part(.audio, asset: "audio", chunk: nil, work: duration / 8))
        }
        let data: JSONValue = .object([
            "version": .string(version.id), "version_url": .string(version.url.description), "chunk_s": .double(chunkSeconds),
            "chunks": .integer(plan.chunks.count), "duration_s": .double((duration * 1000).rounded() / 1000),
            "plan": try TranscodePartJobHandler.json(plan),
        ])
        return JobResult(data: data, parts: parts)
    }

    /// The job's last stage: the parts' results joined into one package, published as the job's.
    static func stitch(job: JobContext, pipeline: PipelineContext) async throws -> JobResult {
        guard let record = try await job.splitRecord(),
              let planJSON = (try? JSONValue.parse(record))?["plan"] else {
            throw JobFailure(code: "JOB_INTERNAL", message: "the split job has no plan recorded", retryable: false)
        }
        let plan = try JSONValueDecoder(rootPath: "plan").decode(SplitPlan.self, from: planJSON)
        let parts = try await job.parts()
        var chunks: [PartResult] = []
        var audio: PartResult?
        for part in parts {
            guard part.state == .completed, let result = try? JSONValueDecoder().decode(PartResult.self, from: try JSONValue.parse(part.resultJSON)) else {
                throw JobFailure(code: "TRANSCODE_CHUNK_MISSING", message: "part \(part.id) has no result (\(part.state?.rawValue ?? "gone"))", retryable: false)
            }
            if part.asset == "audio" { audio = result } else { chunks.append(result) }
        }
        let package: PackageStitcher.Package
        do {
            package = try PackageStitcher.stitch(chunks: chunks, audio: audio, timelineOffset: plan.timelineOffsetSeconds,
                                                 duration: plan.durationSeconds, dash: plan.dash ?? false)
        } catch {
            throw JobFailure(code: error.code, message: error.message, retryable: false)
        }
        let io = try JobIO(pipeline: pipeline, job: job, needsInput: false)
        return try await runMediaJob(io: io) {
            let version = OutputVersion(id: plan.versionID, filePrefix: try io.filePrefix(), slot: plan.slot,
                                        url: try StorageLocation(parsing: plan.versionURL),
                                        stableMaster: try plan.stableMaster.map { text throws(StorageError) in try StorageLocation(parsing: text) })
            let output = io.directory + "/out"
            for (path, text) in package.files {
                let full = output + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: full, atomically: true, encoding: .utf8)
            }
            try await io.upload(output, to: version)
            let master = try io.stableMaster(of: version, packageMaster: output + "/hls/master.m3u8")
            let prefix = version.url
            let renditions = TranscodeOutputs.renditions(package.renditions, prefix: prefix)
            var outputs = audio?.stills?.objectValue ?? [:]
            TranscodeOutputs.addMasters(version, to: &outputs)
            TranscodeOutputs.addCodecMasters(package.renditions, prefix: prefix, to: &outputs)
            if plan.dash ?? false { TranscodeOutputs.addDASH(package.renditions, prefix: prefix, to: &outputs) }
            TranscodeOutputs.addSubtitles((audio?.subtitles ?? []).map { ($0.rendition, $0.folder + "all.vtt") }, prefix: prefix, to: &outputs)
            let meta = job.delivery.metaMovieID
            var data: [String: JSONValue] = [
                "file_id": .string(io.fileID), "meta_movie_id": meta.map(JSONValue.string) ?? .null,
                "input": .string(job.envelope["input"]?["url"]?.stringValue ?? ""),
                "duration_s": .double((plan.durationSeconds * 1000).rounded() / 1000), "stream_copied": .bool(false),
                "renditions": .array(renditions), "outputs": .object(outputs), "stable_urls": TranscodeOutputs.stableURLs(version),
                "version": .string(version.id), "version_url": .string(version.url.description),
                "warnings": .array((plan.warnings ?? []).map(JSONValue.string)),
                "split": .object([
                    "chunks": .integer(chunks.count), "chunk_s": .double(plan.chunkSeconds),
                    "parts": .array(parts.map { part in
                        .object(["asset_id": .string(part.asset), "worker_id": .string(part.worker), "attempts": .integer(part.attempts)])
                    }),
                ]),
            ]
            // Each chunk measured its own segments; the report sums them over the whole package.
            let measured = chunks.flatMap { $0.quality ?? [] }
            if let sample = plan.qualitySample, sample > 0, !measured.isEmpty {
                var counts: [String: Int] = [:]
                for chunk in chunks { for rendition in chunk.renditions { counts[rendition.name, default: 0] += rendition.segments.count } }
                var locations: [String: String] = [:]
                for chunk in chunks {
                    for rendition in chunk.renditions {
                        for segment in rendition.segments { locations[rendition.name + "/" + String(segment.uri.split(separator: "/").last ?? "")] = segment.uri }
                    }
                }
                let report = QualityReport(sample: sample, segments: measured, segmentCounts: counts)
                data["quality"] = report.json { rendition in
                    let key = rendition.rendition + "/" + rendition.worst.segment
                    return prefix.appending(locations[key] ?? key).description
                }
            }
            if let ladder = plan.ladder { data["ladder"] = ladder }
            if let loudness = audio?.loudness { data["loudness"] = loudness }
            if let captions = audio?.captions { data["captions"] = captions }
            // Each part looked at what it decoded: runs cut by a chunk's edge join up here.
            if let options = plan.qc {
                var reports = chunks.compactMap(\.qc)
                if let heard = audio?.qc { reports.append(heard) }
                data["qc"] = QualityControlReport.finished(reports, options: options).json
            }
            return JobResult(data: .object(data), version: version, stableObjects: master.map { [$0] } ?? [])
        }
    }
}
