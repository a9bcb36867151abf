import Foundation

/// `compose`: scenes of narration (an audio object, or text spoken by the built-in TTS) and
/// pictures (images or clips) into one MP4 in sync to the frame, optionally also HLS; uploaded
/// under `<output>/<file_id>/` (`video.mp4`, `hls/master.m3u8`), then `ComposeCompleted` with the
/// URLs, the duration and every scene's start and end time. See the README for the options.
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
        var options = ComposeOptions()
        var music: StorageLocation?
        var voice = SpeechSynthesizer.Voice()
        var hls = false
    }

    static let maxScenes = 500
    static let maxTextBytes = 20_000

    static func plan(_ options: [String: JSONValue]) throws(JobFailure) -> Plan {
        var plan = Plan()
        func location(_ value: JSONValue?, _ field: String) throws(JobFailure) -> StorageLocation? {
            guard let value else { return nil }
            guard let url = value.stringValue else { throw JobFailure.invalidJob("\(field) must be a storage URL") }
            do {
                return try StorageLocation(parsing: url)
            } catch {
                throw JobFailure.invalidJob("\(field): \(error.message)")
            }
        }
        func number(_ value: JSONValue?, _ field: String, _ range: ClosedRange<Double>) throws(JobFailure) -> Double? {
            guard let value else { return nil }
            guard let number = value.numberValue, range.contains(number) else {
                throw JobFailure.invalidJob("\(field) must be a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func text(_ value: JSONValue?, _ field: String) throws(JobFailure) -> String? {
            guard let value else { return nil }
            guard let text = value.stringValue, text.utf8.count <= maxTextBytes, !text.contains("\u{0}") else {
                throw JobFailure.invalidJob("\(field) must be a string of at most \(maxTextBytes) bytes")
            }
            return text.isEmpty ? nil : text
        }

        guard let scenes = options["scenes"]?.arrayValue, !scenes.isEmpty, scenes.count <= maxScenes else {
            throw JobFailure.invalidJob("options.scenes must list 1 to \(maxScenes) scenes")
        }
        for (index, value) in scenes.enumerated() {
            let field = "options.scenes[\(index)]"
            guard value.objectValue != nil else { throw JobFailure.invalidJob("\(field) must be an object") }
            guard let visual = try location(value["visual"], field + ".visual") else { throw JobFailure.invalidJob("\(field).visual is required") }
            let scene = PlannedScene(
                visual: visual, audio: try location(value["audio"], field + ".audio"), text: try text(value["text"], field + ".text"),
                caption: try text(value["caption"], field + ".caption"),
                durationSeconds: try number(value["duration_s"], field + ".duration_s", 0...3600) ?? 0)
            if scene.audio == nil, scene.text == nil, scene.durationSeconds <= 0 {
                throw JobFailure.invalidJob("\(field) has neither audio nor text, so it needs duration_s")
            }
            plan.scenes.append(scene)
        }

        if let output = options["output"] {
            guard output.objectValue != nil else { throw JobFailure.invalidJob("options.output must be an object") }
            let width = try number(output["width"], "options.output.width", 16...3840) ?? 1280
            let height = try number(output["height"], "options.output.height", 16...3840) ?? 720
            guard width == width.rounded(), height == height.rounded(), Int(width) % 2 == 0, Int(height) % 2 == 0 else {
                throw JobFailure.invalidJob("options.output.width and height must be even whole numbers")
            }
            plan.options.width = Int(width)
            plan.options.height = Int(height)
            let fps = try number(output["fps"], "options.output.fps", 1...120) ?? 30
            // 29.97 and friends stay exact.
            if abs(fps * 1001 / 1000 - (fps * 1001 / 1000).rounded()) < 0.001, fps != fps.rounded() {
                plan.options.fpsNumerator = Int((fps * 1001 / 1000).rounded()) * 1000
                plan.options.fpsDenominator = 1001
            } else {
                guard fps == fps.rounded() else { throw JobFailure.invalidJob("options.output.fps must be whole or an NTSC rate (29.97)") }
                plan.options.fpsNumerator = Int(fps)
            }
            if let hls = output["hls"] {
                guard let value = hls.boolValue else { throw JobFailure.invalidJob("options.output.hls must be true or false") }
                plan.hls = value
            }
            plan.options.crf = try number(output["crf"], "options.output.crf", 0...51) ?? 23
            if let preset = output["preset"] {
                guard let value = preset.stringValue, EncodeSettings.presets.contains(value) else {
                    throw JobFailure.invalidJob("options.output.preset is not an x264 preset")
                }
                plan.options.settings.preset = value
            }
        }
        if let fit = options["fit"] {
            guard let value = fit.stringValue.flatMap(ComposeOptions.Fit.init(rawValue:)) else {
                throw JobFailure.invalidJob("options.fit must be cover or letterbox")
            }
            plan.options.fit = value
        }
        switch options["ken_burns"] {
        case nil: break
        case .bool(let on)?: plan.options.kenBurns = on
        case let value?:
            guard value.objectValue != nil else { throw JobFailure.invalidJob("options.ken_burns must be true, false or {\"zoom\": 0.12}") }
            plan.options.kenBurns = true
            plan.options.kenBurnsZoom = try number(value["zoom"], "options.ken_burns.zoom", 0.01...0.5) ?? 0.12
        }
        plan.options.transitionSeconds = try number(options["transition"], "options.transition", 0...5) ?? 0
        switch options["captions"] {
        case nil: break
        case .bool(let on)?: plan.options.captions = on
        case let value?:
            guard value.objectValue != nil else { throw JobFailure.invalidJob("options.captions must be true, false or {\"size\": 0.055}") }
            plan.options.captions = true
            plan.options.captionSize = try number(value["size"], "options.captions.size", 0.02...0.2) ?? 0.055
        }
        if let music = options["background_music"] {
            guard music.objectValue != nil, let url = try location(music["url"], "options.background_music.url") else {
                throw JobFailure.invalidJob("options.background_music must be {\"url\": ..., \"level_db\": -20, \"duck_db\": -12}")
            }
            plan.music = url
            plan.options.musicDecibels = try number(music["level_db"], "options.background_music.level_db", -60...0) ?? -20
            plan.options.duckDecibels = try number(music["duck_db"], "options.background_music.duck_db", -40...0) ?? -12
        }
        plan.options.loudnessLUFS = try number(options["loudness"], "options.loudness", -40 ... -5)
        if let voice = options["voice"] {
            guard voice.objectValue != nil else { throw JobFailure.invalidJob("options.voice must be an object") }
            if let name = voice["name"] {
                guard let value = name.stringValue, (1...63).contains(value.utf8.count),
                      value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_+".contains($0)) }) else {
                    throw JobFailure.invalidJob("options.voice.name must be an espeak-ng voice name (letters, digits, - _ +)")
                }
                plan.voice.name = value
            }
            plan.voice.wordsPerMinute = Int(try number(voice["rate_wpm"], "options.voice.rate_wpm", 80...450) ?? 175)
            plan.voice.pitch = Int(try number(voice["pitch"], "options.voice.pitch", 0...100) ?? 50)
        }
        return plan
    }

    /// A failure while fetching or speaking a scene's part names the scene, as the shim's do.
    static func sceneFailure(_ failure: JobFailure, scene: Int, part: String) -> JobFailure {
        JobFailure(code: failure.code, message: "scene \(scene + 1) (\(part)): \(failure.message)", retryable: failure.retryable)
    }

    public func run(_ job: JobContext) async throws -> JSONValue {
        let plan = try Self.plan(job.options)
        let io = try JobIO(pipeline: pipeline, job: job, needsInput: false)
        let ledger = UploadLedger(storage: pipeline.storage)
        let speech = SpeechSynthesizer(cacheDirectory: pipeline.workspace.root + "/speech-cache")
        return try await runMediaJob(io: io, ledger: ledger) {
            let prefix = try io.outputPrefix()
            var scenes: [ComposeScene] = []
            var spoken = 0
            for (index, scene) in plan.scenes.enumerated() {
                let visual: String
                var audio: String?
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
                        if !result.cached { spoken += 1 }
                    } catch {
                        throw Self.sceneFailure(JobFailure(error), scene: index, part: "text")
                    }
                }
                scenes.append(ComposeScene(visual: visual, audio: audio, caption: scene.caption ?? scene.text, durationSeconds: scene.durationSeconds))
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
            if plan.hls {
                // The composition's keyframes fall every 2 s, so HLS is a stream copy of it.
                var hls = HLSSettings()
                hls.packaging = .auto
                let rung = VideoRung(maxWidth: max(options.width, options.height), maxHeight: max(options.width, options.height), crf: options.crf)
                _ = try await HLSPackager.package(input: composition.path, outputDirectory: output + "/hls", rungs: [rung], settings: options.settings,
                                                  hls: hls, limits: pipeline.mediaLimits) { fraction in Task { await job.progress(0.7 + fraction * 0.15) } }
                outputs["hls_master"] = .string(prefix.appending("hls/master.m3u8").description)
            }
            await job.progress(0.85)
            _ = try await ledger.uploadTree(output, to: prefix)
            await job.progress(1)

            func milliseconds(_ value: Double) -> JSONValue { .number((value * 1000).rounded() / 1000) }
            var result: [String: JSONValue] = [
                "file_id": .string(io.fileID), "outputs": .object(outputs),
                "duration_s": milliseconds(composition.durationSeconds), "audio_duration_s": milliseconds(composition.audioDurationSeconds),
                "width": .number(Double(options.width)), "height": .number(Double(options.height)),
                "fps": .number((Double(options.fpsNumerator) / Double(options.fpsDenominator) * 1000).rounded() / 1000),
                "frames": .number(Double(composition.frameCount)), "codecs": .string(composition.codecs),
                "scenes": .array(composition.scenes.enumerated().map { index, timing in
                    .object(["index": .number(Double(index)), "start_s": milliseconds(timing.startSeconds), "end_s": milliseconds(timing.endSeconds)])
                }),
                "speech_synthesized": .number(Double(spoken)),
            ]
            if let measured = composition.measuredLUFS, let gain = composition.gainDecibels {
                result["loudness"] = .object(["measured_lufs": .number((measured * 10).rounded() / 10), "gain_db": .number((gain * 10).rounded() / 10)])
            }
            return .object(result)
        }
    }
}
