import Foundation
import JobContract
import Storage

/// `compose`: scenes of narration (an audio object, or text spoken by the built-in TTS) and
/// pictures (images or clips) into one MP4 in sync to the frame, optionally also HLS; uploaded
/// under `<output>/<file_id>/` (`video.mp4`, `hls/master.m3u8`), then `ComposeCompleted` with the
/// URLs, the duration and every scene's start and end time. See docs/compose.md for the options.
public struct ComposeJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    struct PlannedScene: Equatable {
        var visual: StorageLocation
        var audio: StorageLocation?
        var text: String?
        var caption: String?
        var durationSeconds: Double
    }

    struct Plan {
        var scenes: [PlannedScene] = []
        var captionTrack = true
        var options = ComposeOptions()
        var music: StorageLocation?
        var voice = SpeechSynthesizer.Voice()
        var hls = false
    }

    static func plan(_ options: ComposeJobOptions) throws(JobFailure) -> Plan {
        var plan = Plan()
        func location(_ url: String, _ field: String) throws(JobFailure) -> StorageLocation {
            do {
                return try StorageLocation(parsing: url)
            } catch {
                throw JobFailure(code: "JOB_INVALID_FIELD", message: "\(field): \(error.message)", retryable: false)
            }
        }
        for (index, scene) in options.scenes.enumerated() {
            let field = "options.scenes[\(index)]"
            plan.scenes.append(PlannedScene(
                visual: try location(scene.visual, field + ".visual"),
                audio: try scene.audio.map { url throws(JobFailure) in try location(url, field + ".audio") },
                text: scene.text, caption: scene.caption, durationSeconds: scene.durationSeconds))
        }
        plan.options.width = options.output.width
        plan.options.height = options.output.height
        let rate = options.output.frameRate ?? (30, 1)  // checked when the job was accepted
        plan.options.fpsNumerator = rate.numerator
        plan.options.fpsDenominator = rate.denominator
        plan.hls = options.output.hls
        plan.captionTrack = options.captionTrack
        plan.options.crf = options.output.crf
        if let preset = options.output.preset { plan.options.settings.preset = preset }
        plan.options.fit = options.fit == .letterbox ? .letterbox : .cover
        plan.options.kenBurns = options.kenBurns.isOn
        if let zoom = options.kenBurns.value { plan.options.kenBurnsZoom = zoom }
        plan.options.transitionSeconds = options.transitionSeconds
        plan.options.captions = options.captions.isOn
        if let size = options.captions.value { plan.options.captionSize = size }
        if let music = options.backgroundMusic {
            plan.music = try location(music.url, "options.background_music.url")
            plan.options.musicDecibels = music.levelDecibels
            plan.options.duckDecibels = music.duckDecibels
        }
        plan.options.loudnessLUFS = options.loudness
        if let voice = options.voice {
            if let name = voice.name { plan.voice.name = name }
            if let rate = voice.rateWordsPerMinute { plan.voice.wordsPerMinute = Int(rate) }
            if let pitch = voice.pitch { plan.voice.pitch = Int(pitch) }
        }
        return plan
    }

    /// A failure while fetching or speaking a scene's part names the scene, as the shim's do.
    static func sceneFailure(_ failure: JobFailure, scene: Int, part: String) -> JobFailure {
        JobFailure(code: failure.code, message: "scene \(scene + 1) (\(part)): \(failure.message)", retryable: failure.retryable)
    }

    public func run(_ job: JobContext) async throws -> JobResult {
        let plan = try Self.plan(try job.options(ComposeJobOptions.self))
        let io = try JobIO(pipeline: pipeline, job: job, needsInput: false)
        let speech = SpeechSynthesizer(cacheDirectory: pipeline.workspace.root + "/speech-cache")
        return try await runMediaJob(io: io) {
            let version = try io.newVersion(hasStableMaster: plan.hls)
            let prefix = version.url
            var scenes: [ComposeScene] = []
            var spoken = 0
            // Per scene: the caption text and, when it is the text the TTS spoke, its words' times.
            var captions: [(text: String, words: [SpeechSynthesizer.Word]?)?] = []
            for (index, scene) in plan.scenes.enumerated() {
                let visual: String
                var audio: String?
                var words: [SpeechSynthesizer.Word]?
                do throws(JobFailure) {
                    visual = try await io.fetch(scene.visual, as: "scene-\(index)-visual").path
                } catch {
                    throw Self.sceneFailure(error, scene: index, part: "visual")
                }
                if let location = scene.audio {
                    do throws(JobFailure) {
                        audio = try await io.fetch(location, as: "scene-\(index)-audio").path
                    } catch {
                        throw Self.sceneFailure(error, scene: index, part: "audio")
                    }
                } else if let text = scene.text {
                    do throws(MediaError) {
                        let result = try await speech.speak(text, voice: plan.voice)
                        audio = result.path
                        words = result.words
                        if !result.cached { spoken += 1 }
                    } catch {
                        throw Self.sceneFailure(JobFailure(error), scene: index, part: "text")
                    }
                }
                scenes.append(ComposeScene(visual: visual, audio: audio, caption: scene.caption ?? scene.text, durationSeconds: scene.durationSeconds))
                captions.append((scene.caption ?? scene.text).map { ($0, scene.caption == nil ? words : nil) })
                await job.progress(0.1 * Double(index + 1) / Double(plan.scenes.count))
            }
            var options = plan.options
            if let music = plan.music {
                do throws(JobFailure) {
                    options.music = try await io.fetch(music, as: "music").path
                } catch {
                    throw JobFailure(code: error.code, message: "background music: \(error.message)", retryable: error.retryable)
                }
            }

            let output = io.directory + "/out"
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let composition = try await Composer.compose(
                scenes: scenes, options: options, outputPath: output + "/video.mp4", limits: pipeline.mediaLimits
            ) { fraction in Task { await job.progress(0.1 + fraction * (plan.hls ? 0.6 : 0.75)) } }

            var outputs: [String: JSONValue] = ["mp4": .string(prefix.appending("video.mp4").description)]
            // Soft captions, exact by construction: the words' times from the TTS on the scenes' times.
            let cues = plan.captionTrack ? NarrationCaptions.cues(zip(captions, composition.scenes).compactMap { caption, timing in
                caption.map { NarrationCaptions.Scene(text: $0.text, words: $0.words, start: timing.startSeconds, end: timing.endSeconds) }
            }) : []
            let language = String(plan.voice.name.prefix { $0 != "+" })
            var subtitles: [SubtitleSource] = []
            if !cues.isEmpty {
                let sidecar = output + "/captions.vtt"
                do {
                    try NarrationCaptions.webVTT(cues).write(toFile: sidecar, atomically: true, encoding: .utf8)
                } catch {
                    throw JobFailure(code: "MEDIA_OUTPUT_FAILED", message: "cannot write captions.vtt: \(error.localizedDescription)", retryable: true)
                }
                outputs["captions"] = .object(["url": .string(prefix.appending("captions.vtt").description), "language": .string(language),
                                               "cues": .integer(cues.count)])
                subtitles = [SubtitleSource(path: sidecar, streamIndex: nil, language: language, name: nil)]
            }
            if plan.hls {
                // The composition's keyframes fall every 2 s, so HLS is a stream copy of it.
                var hls = HLSSettings()
                hls.packaging = .auto
                let rung = VideoRung(maxWidth: max(options.width, options.height), maxHeight: max(options.width, options.height), crf: options.crf)
                let package = try await HLSPackager.package(
                    input: composition.path, outputDirectory: output + "/hls", rungs: [rung], settings: options.settings, hls: hls,
                    limits: pipeline.mediaLimits, subtitles: subtitles) { fraction in Task { await job.progress(0.7 + fraction * 0.15) } }
                TranscodeOutputs.addMasters(version, to: &outputs)
                TranscodeOutputs.addSubtitles(package.subtitles.map { ($0, "hls/" + $0.wholeFile) }, prefix: prefix, to: &outputs)
            }
            await job.progress(0.85)
            try await io.upload(output, to: version) { fraction in Task { await job.progress(0.85 + fraction * 0.15) } }
            let master = plan.hls ? try io.stableMaster(of: version, packageMaster: output + "/hls/master.m3u8") : nil

            func milliseconds(_ value: Double) -> JSONValue { .double((value * 1000).rounded() / 1000) }
            var result: [String: JSONValue] = [
                "file_id": .string(io.fileID), "outputs": .object(outputs), "stable_urls": TranscodeOutputs.stableURLs(version, hasMaster: plan.hls),
                "duration_s": milliseconds(composition.durationSeconds), "audio_duration_s": milliseconds(composition.audioDurationSeconds),
                "width": .integer(options.width), "height": .integer(options.height),
                "fps": .double((Double(options.fpsNumerator) / Double(options.fpsDenominator) * 1000).rounded() / 1000),
                "frames": .integer(composition.frameCount), "codecs": .string(composition.codecs),
                "scenes": .array(composition.scenes.enumerated().map { index, timing in
                    .object(["index": .integer(index), "start_s": milliseconds(timing.startSeconds), "end_s": milliseconds(timing.endSeconds)])
                }),
                "speech_synthesized": .integer(spoken),
                "version": .string(version.id), "version_url": .string(version.url.description),
            ]
            if let measured = composition.measuredLUFS, let gain = composition.gainDecibels {
                result["loudness"] = .object(["measured_lufs": .double((measured * 10).rounded() / 10), "gain_db": .double((gain * 10).rounded() / 10)])
            }
            return JobResult(data: .object(result), version: version, stableObjects: master.map { [$0] } ?? [])
        }
    }
}
