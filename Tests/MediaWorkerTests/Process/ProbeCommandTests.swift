import Foundation
import TestSupport
import Testing

/// `media-worker probe` judged by ffprobe, the independent tool, on every good fixture,
/// and its one-line errors on every bad one.
@Suite("media-worker probe")
struct ProbeCommandTests {
    static let goodFixtures = [
        "h264-aac-1080p30-10s.mp4", "h264-720p-noaudio.mp4", "audio-only.m4a", "audio-only.wav",
        "portrait-rotate90.mp4", "odd-853x479.mp4", "vfr.mp4", "hevc.mkv", "vp9-opus.webm", "h264-10bit.mp4",
        "anamorphic-720x480.mp4", "short-0.5s.mp4", "still-alpha.png", "still.jpg", "speech.wav", "interlaced-576i.mp4",
    ]

    static let badFixtures: [(String, String)] = [
        ("bad-zero-bytes.mp4", "MEDIA_INPUT_EMPTY"),
        ("bad-truncated-no-moov.mp4", "MEDIA_INPUT_CORRUPT"),
        ("bad-random-bytes.mp4", "MEDIA_FORMAT_UNRECOGNIZED"),
        ("bad-text-file.mp4", "MEDIA_FORMAT_UNRECOGNIZED"),
        ("bad-disguised-playlist.mp4", "MEDIA_FORMAT_NOT_ALLOWED"),
        ("bad-absurd-dimensions.png", "MEDIA_DIMENSIONS_TOO_LARGE"),
    ]

    private func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("agrees with ffprobe", arguments: goodFixtures)
    func agreesWithFFprobe(fixture: String) async throws {
        let path = try ProjectPaths.fixture(fixture)
        let ours = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["probe", path])
        #expect(ours.succeeded, "\(ours.stderr)")
        let ffprobe = try await CommandRunner.run(
            try ProjectPaths.tool("ffprobe", package: "ffmpeg"),
            ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path])
        #expect(ffprobe.succeeded, "\(ffprobe.stderr)")
        let mine = try json(ours.stdout)
        let theirs = try json(ffprobe.stdout)
        let format = try #require(theirs["format"] as? [String: Any])

        // ffprobe picks image2 for a still by its file name; we identify stills by content only.
        let isStill = format["format_name"] as? String == "image2"
        if isStill {
            #expect((mine["container"] as? String)?.hasSuffix("_pipe") == true)
        } else {
            #expect(mine["container"] as? String == format["format_name"] as? String)
        }
        if !isStill, let expected = (format["duration"] as? String).flatMap(Double.init) {
            let duration = try #require(mine["duration_s"] as? Double, "ffprobe has a duration, we do not")
            #expect(abs(duration - expected) <= 0.05, "duration \(duration) vs ffprobe \(expected)")
        }
        let myStreams = try #require(mine["streams"] as? [[String: Any]])
        let theirStreams = try #require(theirs["streams"] as? [[String: Any]])
        #expect(myStreams.count == theirStreams.count)
        for (my, their) in zip(myStreams, theirStreams) {
            #expect(my["codec"] as? String == their["codec_name"] as? String)
            #expect(my["type"] as? String == their["codec_type"] as? String)
            if let profile = their["profile"] as? String {
                #expect(my["profile"] as? String == profile)
            }
            if their["codec_type"] as? String == "video" {
                #expect(my["width"] as? Int == their["width"] as? Int)
                #expect(my["height"] as? Int == their["height"] as? Int)
                #expect(my["pix_fmt"] as? String == their["pix_fmt"] as? String)
                #expect(my["avg_frame_rate"] as? String == their["avg_frame_rate"] as? String)
                #expect(my["r_frame_rate"] as? String == their["r_frame_rate"] as? String)
                if let sar = their["sample_aspect_ratio"] as? String {
                    #expect(my["sample_aspect_ratio"] as? String == sar)
                }
                // ffprobe gives the display matrix's counter-clockwise angle; we give the clockwise turn a player makes.
                let sideData = their["side_data_list"] as? [[String: Any]] ?? []
                let counterClockwise = sideData.compactMap { $0["rotation"] as? Int }.first ?? 0
                #expect(my["rotation"] as? Int == ((-counterClockwise) % 360 + 360) % 360)
            }
            if their["codec_type"] as? String == "audio" {
                #expect(my["sample_rate"] as? Int == (their["sample_rate"] as? String).flatMap(Int.init))
                #expect(my["channels"] as? Int == their["channels"] as? Int)
                if let layout = their["channel_layout"] as? String {
                    #expect(my["channel_layout"] as? String == layout)
                }
            }
        }
    }

    @Test("the phone clip is reported turned 90° clockwise")
    func portraitRotation() async throws {
        let ours = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["probe", try ProjectPaths.fixture("portrait-rotate90.mp4")])
        let streams = try #require(try json(ours.stdout)["streams"] as? [[String: Any]])
        #expect(streams.first?["rotation"] as? Int == 90)
    }

    @Test("a bad input exits non-zero with one line naming its error code", arguments: badFixtures)
    func badInput(fixture: String, code: String) async throws {
        let result = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["probe", try ProjectPaths.fixture(fixture)])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("error \(code): ") == true, "\(result.stderr)")
    }

    @Test("a playlist disguised as a video reads nothing but itself")
    func disguisedPlaylistReadsNothingElse() async throws {
        let directory = try makeTestDirectory("probe")
        defer { try? FileManager.default.removeItem(at: directory) }
        let canary = directory.appendingPathComponent("canary.ts").path
        try Data(repeating: 0x47, count: 188 * 10).write(to: URL(fileURLWithPath: canary))
        let playlist = directory.appendingPathComponent("upload.mp4").path
        try """
            #EXTM3U
            #EXT-X-TARGETDURATION:10
            #EXTINF:10.0,
            file://\(canary)
            #EXTINF:10.0,
            /etc/passwd
            #EXTINF:10.0,
            concat:\(canary)|/etc/passwd
            #EXT-X-ENDLIST

            """.write(toFile: playlist, atomically: true, encoding: .utf8)
        let trace = directory.appendingPathComponent("trace.log").path
        let result = try await CommandRunner.run(
            try ProjectPaths.tool("strace", package: "strace"),
            ["-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, try ProjectPaths.executable("media-worker"), "probe", playlist])
        #expect(result.status == 1)
        #expect(result.stderr.contains("MEDIA_FORMAT_NOT_ALLOWED"), "\(result.stderr)")
        let opened = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(opened.contains(playlist), "strace saw no open of the input: is tracing working?")
        #expect(!opened.contains("canary.ts"))
        #expect(!opened.contains("/etc/passwd"))
    }

    @Test("a missing file is a clear error, not a crash")
    func missingFile() async throws {
        let result = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["probe", "/nonexistent/upload.mp4"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error MEDIA_INPUT_NOT_FOUND: "))
    }
}
