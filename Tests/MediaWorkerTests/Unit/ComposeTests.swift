import Foundation
import MediaWorker
import TestSupport
import Testing

/// Test material made with the ffmpeg CLI: solid-colour stills and clips, pure-tone narrations.
struct ComposeMaterial {
    let directory: String

    func ffmpeg(_ arguments: [String]) async throws {
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), ["-v", "error", "-y"] + arguments)
        #expect(result.succeeded, "ffmpeg \(arguments): \(result.stderr)")
    }

    static func hex(_ color: [Int]) -> String { String(format: "0x%02X%02X%02X", color[0], color[1], color[2]) }

    /// A still of one colour; `alpha` < 1 makes a PNG with an alpha channel.
    func still(_ name: String, color: [Int], width: Int = 640, height: Int = 360, alpha: Double = 1) async throws -> String {
        let path = directory + "/" + name
        let source = "color=c=\(Self.hex(color)):s=\(width)x\(height)"
        try await ffmpeg(["-f", "lavfi", "-i", source, "-frames:v", "1"] + (alpha < 1 ? ["-vf", "format=rgba,colorchannelmixer=aa=\(alpha)"] : []) + [path])
        return path
    }

    func clip(_ name: String, color: [Int], seconds: Double, fps: Int = 24) async throws -> String {
        let path = directory + "/" + name
        try await ffmpeg(["-f", "lavfi", "-i", "color=c=\(Self.hex(color)):s=480x270:r=\(fps):d=\(seconds)", "-c:v", "libx264",
                          "-pix_fmt", "yuv420p", path])
        return path
    }

    /// A pure tone of exactly `seconds` at `rate` (the container/codec from the name's extension).
    func tone(_ name: String, freq: Double, seconds: Double, rate: Int = 48000, channels: Int = 1, volume: Double = 0.5) async throws -> String {
        let path = directory + "/" + name
        try await ffmpeg(["-f", "lavfi", "-i", "sine=f=\(freq):sample_rate=\(rate):d=\(seconds)", "-af", "volume=\(volume)",
                          "-ac", String(channels), path])
        return path
    }

    func judge(_ video: String, fps: Double, scenes: [(color: [Int], freq: Double?, length: Double)], transition: Double = 0) async throws -> ComposeVerdict {
        let spec: [String: Any] = [
            "fps": fps, "transition_s": transition,
            "scenes": scenes.map { ["color": $0.color, "freq": $0.freq.map { $0 as Any } ?? NSNull(), "length_s": $0.length] as [String: Any] },
        ]
        let specPath = directory + "/spec-\(UUID().uuidString.prefix(6)).json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        let result = try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent("test/compose_judge.py").path, video, specPath])
        #expect(result.succeeded, "\(result.stderr)")
        return try JSONDecoder().decode(ComposeVerdict.self, from: Data(result.stdout.utf8))
    }

    /// Mean absolute difference of two frames' luma (0...255), decoded by ffmpeg at 64x36.
    func frameDifference(_ video: String, _ first: Int, _ second: Int) async throws -> Double {
        let a = try await gray(video, frame: first), b = try await gray(video, frame: second)
        return zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(max(1, a.count))
    }

    /// One frame as 8-bit gray pixels at `width` x `height`.
    func gray(_ video: String, frame: Int, width: Int = 64, height: Int = 36) async throws -> [UInt8] {
        let out = directory + "/frame-\(UUID().uuidString.prefix(6)).gray"
        try await ffmpeg(["-i", video, "-vf", "select=eq(n\\,\(frame)),scale=\(width):\(height)", "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", out])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
    }
}

/// Twelve colours far apart (hues 30° apart, full saturation) and tones 150 Hz apart.
let scenePalette: [[Int]] = [[255, 0, 0], [255, 128, 0], [255, 255, 0], [128, 255, 0], [0, 255, 0], [0, 255, 128],
                             [0, 255, 255], [0, 128, 255], [0, 0, 255], [128, 0, 255], [255, 0, 255], [255, 0, 128]]
func sceneTone(_ index: Int) -> Double { 400 + 150 * Double(index) }

@Suite("Compose: narration and pictures in sync to the frame, judged on the output", .serialized)
struct ComposeTests {
    func withMaterial(_ body: (ComposeMaterial) async throws -> Void) async throws {
        let directory = try makeTestDirectory("compose")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(ComposeMaterial(directory: directory.path))
    }

    func options(width: Int = 640, height: Int = 360) -> ComposeOptions {
        var options = ComposeOptions()
        options.width = width
        options.height = height
        options.settings.preset = "ultrafast"
        return options
    }

    @Test("one scene: the picture lasts the narration, both start at 0, durations within a frame")
    func oneScene() async throws {
        try await withMaterial { material in
            let still = try await material.still("red.png", color: scenePalette[0])
            let voice = try await material.tone("voice.wav", freq: sceneTone(0), seconds: 2.37)
            let output = material.directory + "/one.mp4"
            let composition = try await Composer.compose(scenes: [ComposeScene(visual: still, audio: voice)], options: options(), outputPath: output)
            #expect(composition.frameCount == 71)   // 2.37 s at 30 fps, to the nearest frame
            #expect(abs(composition.audioDurationSeconds - 2.37) < 1e-6)
            #expect(composition.scenes == [Composition.SceneTiming(startSeconds: 0, endSeconds: 2.37)])
            #expect(composition.codecs.hasPrefix("avc1.") && composition.codecs.hasSuffix(",mp4a.40.2"))
            let verdict = try await material.judge(output, fps: 30, scenes: [(scenePalette[0], sceneTone(0), 2.37)])
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
        }
    }

    @Test("three scenes: 22.05/44.1/48 kHz, mono and stereo, WAV/MP3/Ogg narration; PNG with alpha, portrait and odd-sized images")
    func threeMixedScenes() async throws {
        try await withMaterial { material in
            let scenes = [
                ComposeScene(visual: try await material.still("alpha.png", color: scenePalette[0], alpha: 0.5),
                             audio: try await material.tone("a.wav", freq: sceneTone(0), seconds: 1.31, rate: 22050, channels: 1)),
                ComposeScene(visual: try await material.still("portrait.jpg", color: scenePalette[4], width: 333, height: 597),
                             audio: try await material.tone("b.mp3", freq: sceneTone(3), seconds: 2.05, rate: 44100, channels: 2)),
                ComposeScene(visual: try await material.still("odd.png", color: scenePalette[8], width: 641, height: 359),
                             audio: try await material.tone("c.ogg", freq: sceneTone(6), seconds: 0.93, rate: 48000, channels: 1)),
            ]
            let output = material.directory + "/three.mp4"
            let composition = try await Composer.compose(scenes: scenes, options: options(), outputPath: output)
            // The alpha still is laid on black: half its colour.
            let verdict = try await material.judge(output, fps: 30, scenes: [
                ([128, 0, 0], sceneTone(0), composition.scenes[0].endSeconds),
                (scenePalette[4], sceneTone(3), composition.scenes[1].endSeconds - composition.scenes[1].startSeconds),
                (scenePalette[8], nil, composition.scenes[2].endSeconds - composition.scenes[2].startSeconds),
            ])
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            // Each scene lasts its narration as decoded (MP3 and Ogg within their codec's few ms).
            for (timing, length) in zip(composition.scenes, [1.31, 2.05, 0.93]) {
                #expect(abs(timing.endSeconds - timing.startSeconds - length) < 0.03, "\(timing) for \(length) s")
            }
        }
    }

    @Test("twelve scenes of lengths that are not whole frames: no drift builds up, every cut on its audio boundary")
    func twelveScenes() async throws {
        try await withMaterial { material in
            let lengths = [0.37, 1.02, 0.55, 1.3, 0.71, 0.49, 1.17, 0.63, 0.88, 0.41, 1.25, 0.77]
            var scenes: [ComposeScene] = []
            for (index, length) in lengths.enumerated() {
                scenes.append(ComposeScene(visual: try await material.still("s\(index).png", color: scenePalette[index]),
                                           audio: try await material.tone("n\(index).wav", freq: sceneTone(index), seconds: length,
                                                                          rate: [22050, 44100, 48000][index % 3], channels: 1 + index % 2)))
            }
            let output = material.directory + "/twelve.mp4"
            let composition = try await Composer.compose(scenes: scenes, options: options(), outputPath: output)
            #expect(abs(composition.audioDurationSeconds - lengths.reduce(0, +)) < 1e-4)
            let verdict = try await material.judge(output, fps: 30, scenes: lengths.enumerated().map { (scenePalette[$0], sceneTone($0), $1) })
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            #expect(verdict.facts.audio_cuts_s?.compactMap { $0 }.count == 11)
        }
    }

    @Test("a clip shorter than its narration holds its last frame; a longer one is cut at the narration's end (M4A narration)")
    func clips() async throws {
        try await withMaterial { material in
            let scenes = [
                ComposeScene(visual: try await material.clip("short.mp4", color: scenePalette[2], seconds: 0.5),
                             audio: try await material.tone("a.wav", freq: sceneTone(0), seconds: 1.5)),
                ComposeScene(visual: try await material.clip("long.mp4", color: scenePalette[6], seconds: 3),
                             audio: try await material.tone("b.m4a", freq: sceneTone(4), seconds: 1.0, channels: 2)),
                ComposeScene(visual: try await material.still("still.png", color: scenePalette[10]),
                             audio: try await material.tone("c.wav", freq: sceneTone(8), seconds: 0.8)),
            ]
            let output = material.directory + "/clips.mp4"
            let composition = try await Composer.compose(scenes: scenes, options: options(), outputPath: output)
            let lengths = composition.scenes.map { $0.endSeconds - $0.startSeconds }
            #expect(abs(lengths[1] - 1.0) < 0.03, "the M4A narration decodes to \(lengths[1]) s")
            let verdict = try await material.judge(output, fps: 30, scenes: [
                (scenePalette[2], sceneTone(0), lengths[0]), (scenePalette[6], sceneTone(4), lengths[1]), (scenePalette[10], sceneTone(8), lengths[2]),
            ])
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
        }
    }

    @Test("crossfades overlap pictures only: cuts stay on the audio boundaries, the narration is never overlapped")
    func crossfades() async throws {
        try await withMaterial { material in
            let lengths = [1.4, 1.1, 1.6]
            var scenes: [ComposeScene] = []
            for (index, length) in lengths.enumerated() {
                scenes.append(ComposeScene(visual: try await material.still("s\(index).png", color: scenePalette[index * 4]),
                                           audio: try await material.tone("n\(index).wav", freq: sceneTone(index * 3), seconds: length)))
            }
            var options = options()
            options.transitionSeconds = 0.4
            let output = material.directory + "/fades.mp4"
            let composition = try await Composer.compose(scenes: scenes, options: options, outputPath: output)
            #expect(abs(composition.audioDurationSeconds - lengths.reduce(0, +)) < 1e-4)
            let verdict = try await material.judge(output, fps: 30, scenes: lengths.enumerated().map { (scenePalette[$0 * 4], sceneTone($0 * 3), $1) },
                                                   transition: 0.4)
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            // The frame before the first boundary (1.4 s = frame 42) is a blend, not scene 1's colour.
            let blended = try await material.frameDifference(output, 41, 30)
            #expect(blended > 10, "frame 41 differs by \(blended) from a pure frame of scene 1")
            #expect(try await material.frameDifference(output, 20, 30) < 2)
        }
    }

    @Test("Ken Burns moves a still steadily; letterbox keeps bars, cover fills the frame")
    func kenBurnsAndFit() async throws {
        try await withMaterial { material in
            let pattern = material.directory + "/pattern.png"
            try await material.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=800x450", "-frames:v", "1", pattern])
            let voice = try await material.tone("v.wav", freq: 500, seconds: 2)
            var options = options()
            options.kenBurns = true
            let moving = material.directory + "/kb.mp4"
            _ = try await Composer.compose(scenes: [ComposeScene(visual: pattern, audio: voice)], options: options, outputPath: moving)
            let overall = try await material.frameDifference(moving, 0, 59)
            let step = try await material.frameDifference(moving, 30, 31)
            #expect(overall > 5, "first and last frames differ by \(overall)")
            #expect(step > 0 && step < overall / 4, "one frame's step \(step) against \(overall) overall")

            let portrait = try await material.still("tall.png", color: [255, 255, 255], width: 300, height: 600)
            var letterbox = self.options()
            letterbox.fit = .letterbox
            let boxed = material.directory + "/box.mp4"
            _ = try await Composer.compose(scenes: [ComposeScene(visual: portrait, audio: voice)], options: letterbox, outputPath: boxed)
            let pixels = try await material.gray(boxed, frame: 10, width: 64, height: 36)
            #expect(pixels[18 * 64 + 32] > 200 && pixels[18 * 64 + 2] < 30 && pixels[18 * 64 + 61] < 30, "centre \(pixels[18 * 64 + 32]), edges \(pixels[18 * 64 + 2]) \(pixels[18 * 64 + 61])")
            let covered = material.directory + "/cover.mp4"
            _ = try await Composer.compose(scenes: [ComposeScene(visual: portrait, audio: voice)], options: self.options(), outputPath: covered)
            let filled = try await material.gray(covered, frame: 10, width: 64, height: 36)
            #expect(filled.allSatisfy { $0 > 200 })
        }
    }

    @Test("captions are burned in at the bottom, wrapped inside the frame, only while their scene shows")
    func captions() async throws {
        try await withMaterial { material in
            let dark = try await material.still("dark.png", color: [20, 20, 60])
            let voice = try await material.tone("v.wav", freq: 500, seconds: 1)
            let long = "A caption long enough that it cannot possibly fit on one line of a small frame, so it wraps"
            var options = options()
            options.captions = true
            let output = material.directory + "/captions.mp4"
            _ = try await Composer.compose(scenes: [ComposeScene(visual: dark, audio: voice, caption: long),
                                                    ComposeScene(visual: dark, audio: voice)], options: options, outputPath: output)
            let width = 640, height = 360
            let captioned = try await material.gray(output, frame: 15, width: width, height: height)
            let plain = try await material.gray(output, frame: 45, width: width, height: height)
            let bright = captioned.enumerated().filter { $0.element > 180 }.map { (x: $0.offset % width, y: $0.offset / width) }
            #expect(!bright.isEmpty, "no caption drawn")
            #expect(plain.allSatisfy { $0 < 120 }, "the second scene has no caption")
            if let top = bright.map(\.y).min(), let bottom = bright.map(\.y).max(), let left = bright.map(\.x).min(), let right = bright.map(\.x).max() {
                #expect(top > height / 2, "caption starts at row \(top)")
                #expect(bottom - top > 30, "\(bottom - top) px tall: not wrapped onto two lines")
                #expect(left >= width / 20 && right <= width - width / 20, "caption spans \(left)...\(right)")
            }
        }
    }

    @Test("background music ducks under speech; loudness normalisation reaches the target")
    func musicAndLoudness() async throws {
        try await withMaterial { material in
            let still = try await material.still("s.png", color: [0, 0, 0])
            let music = try await material.tone("music.wav", freq: 150, seconds: 1.5, volume: 0.5)   // looped under 4 s
            let speech = try await material.tone("speech.wav", freq: 1000, seconds: 2, volume: 0.3)
            var options = options()
            options.music = music
            options.musicDecibels = -6
            options.duckDecibels = -12
            let output = material.directory + "/music.mp4"
            _ = try await Composer.compose(scenes: [ComposeScene(visual: still, audio: speech), ComposeScene(visual: still, durationSeconds: 2)],
                                           options: options, outputPath: output)
            // The music's 150 Hz level while speech plays and after it, by ffmpeg's own band-pass and RMS meter.
            func level(_ from: Double, _ to: Double) async throws -> Double {
                let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                    "-v", "info", "-ss", String(from), "-t", String(to - from), "-i", output,
                    "-af", "bandpass=f=150:width_type=q:w=4,astats=metadata=0:measure_overall=RMS_level:measure_perchannel=none", "-f", "null", "-"])
                let line = result.stderr.split(separator: "\n").last { $0.contains("RMS level dB") } ?? ""
                return Double(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
            let ducked = try await level(0.6, 1.8), open = try await level(2.8, 3.9)
            #expect(abs((open - ducked) - 12) < 2.5, "music at \(ducked) dB under speech, \(open) dB without")

            var loud = self.options()
            loud.loudnessLUFS = -16
            let quiet = try await material.tone("quiet.wav", freq: 700, seconds: 3, volume: 0.03)
            let normalized = material.directory + "/loud.mp4"
            let composition = try await Composer.compose(scenes: [ComposeScene(visual: still, audio: quiet)], options: loud, outputPath: normalized)
            let measured = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"),
                                                       ["-v", "info", "-i", normalized, "-af", "ebur128", "-f", "null", "-"])
            let summary = measured.stderr.components(separatedBy: "Summary:").last ?? ""
            let integrated = summary.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("I:") }
                .flatMap { Double($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }
            #expect(integrated.map { abs($0 + 16) < 1 } == true, "output at \(String(describing: integrated)) LUFS")
            #expect((composition.measuredLUFS ?? 0) < -30 && (composition.gainDecibels ?? 0) > 14)
        }
    }

    @Test("bad scenes fail with their code and a message naming the scene; nothing is left behind")
    func badScenes() async throws {
        try await withMaterial { material in
            let still = try await material.still("ok.png", color: [0, 0, 255])
            let voice = try await material.tone("ok.wav", freq: 500, seconds: 1)
            let noise = material.directory + "/noise.png"
            try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: URL(fileURLWithPath: noise))
            let silent = material.directory + "/empty.wav"
            try await material.ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-frames:a", "0", silent])
            let cases: [([ComposeScene], Set<MediaError.Code>, String)] = [
                ([ComposeScene(visual: still, audio: voice), ComposeScene(visual: material.directory + "/missing.png", audio: voice)],
                 [.inputNotFound], "scene 2 (visual)"),
                ([ComposeScene(visual: noise, audio: voice)], [.formatUnrecognized, .inputCorrupt], "scene 1 (visual)"),
                ([ComposeScene(visual: still, audio: voice), ComposeScene(visual: still, audio: voice), ComposeScene(visual: still, audio: silent)],
                 [.inputEmpty, .inputCorrupt, .noStreams], "scene 3 (audio)"),
                ([ComposeScene(visual: still)], [.invalidArgument], "scene 1 (duration)"),
            ]
            for (scenes, codes, naming) in cases {
                let output = material.directory + "/bad.mp4"
                await #expect {
                    _ = try await Composer.compose(scenes: scenes, options: options(), outputPath: output)
                } throws: { error in
                    guard let error = error as? MediaError else { return false }
                    return codes.contains(error.code) && error.message.hasPrefix(naming)
                }
                #expect(!FileManager.default.fileExists(atPath: output))
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: material.directory).filter { $0.contains("partial") }
                #expect(leftovers.isEmpty, "\(leftovers)")
            }
        }
    }

    @Test("the judge itself fails an out-of-sync composition (so its passes mean something)")
    func judgeCanFail() async throws {
        try await withMaterial { material in
            let first = try await material.still("a.png", color: scenePalette[0]), second = try await material.still("b.png", color: scenePalette[6])
            let output = material.directory + "/pair.mp4"
            _ = try await Composer.compose(scenes: [
                ComposeScene(visual: first, audio: try await material.tone("a.wav", freq: sceneTone(0), seconds: 1.0)),
                ComposeScene(visual: second, audio: try await material.tone("b.wav", freq: sceneTone(5), seconds: 1.0)),
            ], options: options(), outputPath: output)
            // Claim the first narration is 3 frames longer than it is: both the cut and the audio boundary now disagree.
            let verdict = try await material.judge(output, fps: 30, scenes: [(scenePalette[0], sceneTone(0), 1.1), (scenePalette[6], sceneTone(5), 0.9)])
            #expect(verdict.errors.contains { $0.contains("pictures start") })
            #expect(verdict.errors.contains { $0.contains("narration starts") })
        }
    }
}
