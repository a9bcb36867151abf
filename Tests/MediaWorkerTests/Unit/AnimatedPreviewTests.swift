import Foundation
import MediaWorker
import TestSupport
import Testing

/// The animated preview a transcode takes from its own decode shows the same moments as the one
/// that seeks the input on its own: on a source whose every frame has a grey level of its own, each
/// preview frame's level names the source frame it shows.
@Suite("Animated previews: from the ladder's decode and on their own", .serialized)
struct AnimatedPreviewTests {
    static let rate = 25.0

    /// Frame N is a flat grey of luma 16 + 4 * (N mod 50), losslessly coded, a keyframe a second: 8 s, 200 frames; with
    /// `audioSeconds`, a silent track that long beside it (the file then declares that duration).
    static func makeSource(in directory: String, audioSeconds: Double? = nil) async throws -> String {
        let path = directory + "/grey-ramp.mp4"
        var arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "nullsrc=s=640x360:r=25:d=8,format=yuv420p,geq=lum='16+4*mod(N,50)':cb=128:cr=128"]
        if let audioSeconds { arguments += ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo:d=\(audioSeconds)", "-c:a", "aac"] }
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"),
                                                 arguments + ["-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-g", "25", path],
                                                 timeout: .seconds(120))
        #expect(result.succeeded, "\(result.stderr)")
        return path
    }

    /// The grey level (full range, as the preview shows it) of the source frame at or just past `time` (within half a frame).
    static func expectedGrey(at time: Double) -> Double {
        let frame = Int((time * rate - 0.5 - 1e-9).rounded(.up))
        let luma = 16.0 + 4 * Double(frame % 50)
        return (luma - 16) * 255 / 219
    }

    /// A 234p ladder encoded from `source` with its animated preview taken from the decode, at `path`.
    static func ladderPreview(_ source: String, settings: AnimatedPreview.Settings, path: String, in directory: String) async throws -> AnimatedPreview? {
        var hls = HLSSettings()
        hls.packaging = .encode
        hls.preview = HLSSettings.PreviewTarget(settings: settings, path: path)
        let rung = try #require(VideoLadder.apple.first { $0.maxHeight == 234 })
        return try await HLSPackager.package(input: source, outputDirectory: directory + "/out", rungs: [rung], hls: hls).preview
    }

    /// Each `slot` ms of the animation (one frame of the preview's rate; frames merged by libwebp
    /// expanded again) with its grey level.
    static func slots(of path: String, slot: Double = 100) async throws -> [Double] {
        let read = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                               [ProjectPaths.scripts.appendingPathComponent("test/webp_info.py").path, path, "--frames"])
        #expect(read.succeeded, "\(read.stderr)")
        let facts = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any])
        let shown = try #require(facts["shown"] as? [[Double]])
        return shown.flatMap { frame in Array(repeating: frame[1], count: Int((frame[0] / slot).rounded())) }
    }

    @Test("the ladder's preview shows, slot by slot, the source frames the plan names (4 excerpts of 1.5 s at 10 fps), the same as the preview that seeks; a stream copy's package makes none")
    func fromTheLaddersDecode() async throws {
        let directory = try makeTestDirectory("preview")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await Self.makeSource(in: directory.path)
        let settings = AnimatedPreview.Settings()
        let fromLadder = try #require(try await Self.ladderPreview(source, settings: settings, path: directory.path + "/ladder.webp",
                                                                   in: directory.path))
        #expect(fromLadder.frames == 60 && fromLadder.excerpts == 4 && fromLadder.width == 320 && fromLadder.height == 180)
        #expect(abs(fromLadder.durationSeconds - 6) < 0.001)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/ladder.webp.tmp"))

        let onItsOwn = try await AnimatedPreview.make(input: source, outputPath: directory.path + "/own.webp", settings: settings)
        #expect(onItsOwn == fromLadder)

        // The plan: excerpt i starts at 8 * (i + 0.5) / 4 - 0.75 s; frame k of it 0.1 s later each.
        var expected: [Double] = []
        for excerpt in 0..<4 {
            let start = 8 * (Double(excerpt) + 0.5) / 4 - 0.75
            for k in 0..<15 { expected.append(Self.expectedGrey(at: start + Double(k) / 10)) }
        }
        let ladderSlots = try await Self.slots(of: directory.path + "/ladder.webp")
        let ownSlots = try await Self.slots(of: directory.path + "/own.webp")
        #expect(ladderSlots.count == 60 && ownSlots.count == 60)
        // A frame one off is 4.7 grey levels away; WebP's loss on a flat picture is well under 2.
        for (slot, grey) in expected.enumerated() where slot < min(ladderSlots.count, ownSlots.count) {
            #expect(abs(ladderSlots[slot] - grey) < 2, "ladder slot \(slot): \(ladderSlots[slot]) against \(grey)")
            #expect(abs(ownSlots[slot] - grey) < 2, "own slot \(slot): \(ownSlots[slot]) against \(grey)")
        }

        // A stream copy decodes nothing: no preview from it (the job makes one on its own then).
        var copy = HLSSettings()
        copy.packaging = .copy
        copy.preview = HLSSettings.PreviewTarget(settings: settings, path: directory.path + "/copy.webp")
        let fits = try #require(VideoLadder.apple.first { $0.maxHeight == 360 })
        let copied = try await HLSPackager.package(input: source, outputDirectory: directory.path + "/copied", rungs: [fits], hls: copy)
        #expect(copied.streamCopied && copied.preview == nil && !FileManager.default.fileExists(atPath: directory.path + "/copy.webp"))
    }

    @Test("when the file declares more than its video (audio runs on 2 s), the preview's times past the last frame show the last frame, as the seeking preview does; a GIF from the ladder reads back too")
    func pastTheLastFrame() async throws {
        let directory = try makeTestDirectory("preview-end")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await Self.makeSource(in: directory.path, audioSeconds: 10)
        var settings = AnimatedPreview.Settings()
        settings.excerpts = 1
        settings.excerptSeconds = 10   // one excerpt of all 10 declared seconds, 5 frames a second
        settings.fps = 5
        settings.gif = true
        let preview = try #require(try await Self.ladderPreview(source, settings: settings, path: directory.path + "/ladder.gif",
                                                                in: directory.path))
        #expect(preview.frames == 50 && preview.excerpts == 1 && abs(preview.durationSeconds - 10) < 0.001)
        let onItsOwn = try await AnimatedPreview.make(input: source, outputPath: directory.path + "/own.gif", settings: settings)
        #expect(onItsOwn == preview)

        let lastGrey = (16.0 + 4 * 49 - 16) * 255 / 219   // frame 199
        let expected: [Double] = (0..<50).map { k in
            let time = Double(k) / 5
            return time < 8 - 0.5 / Self.rate ? Self.expectedGrey(at: time) : lastGrey
        }
        for name in ["ladder.gif", "own.gif"] {
            let slots = try await Self.slots(of: directory.path + "/" + name, slot: 200)
            #expect(slots.count == 50, "\(name): \(slots.count) slots")
            for (slot, grey) in expected.enumerated() where slot < slots.count {
                #expect(abs(slots[slot] - grey) < 2, "\(name) slot \(slot): \(slots[slot]) against \(grey)")
            }
        }
    }
}
