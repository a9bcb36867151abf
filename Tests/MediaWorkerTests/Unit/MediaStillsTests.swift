import Foundation
import MediaWorker
import TestSupport
import Testing

/// Keyframes, thumbnails, poster and storyboard, judged by ffprobe.
@Suite("Media stills")
struct MediaStillsTests {
    func ffprobe(_ arguments: [String]) async throws -> String {
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffprobe", package: "ffmpeg"), ["-v", "error"] + arguments)
        #expect(result.succeeded, "\(result.stderr)")
        return result.stdout
    }

    func size(of jpeg: String) async throws -> (Int, Int) {
        let text = try await ffprobe(["-show_entries", "stream=width,height", "-of", "csv=p=0", jpeg])
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
        return (parts[0], parts[1])
    }

    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = try makeTestDirectory("stills")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.path)
    }

    @Test("keyframes: the same moments ffprobe lists as keyframes, as JPEGs of the asked size")
    func keyframes() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
            let images = try await MediaStills.keyframes(input: input, outputDirectory: directory, image: ImageSpec(maxWidth: 640))
            let listed = try await ffprobe(["-select_streams", "v", "-skip_frame", "nokey", "-show_entries", "frame=pts_time",
                                            "-of", "csv=p=0", input])
            let expected = listed.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: " ,"))) }
            #expect(images.count == expected.count && !expected.isEmpty)
            for (image, time) in zip(images, expected) {
                #expect(abs(image.timeSeconds - time) < 0.001)
                #expect(image.width == 640 && image.height == 360)
                let (width, height) = try await size(of: image.path)
                #expect(width == 640 && height == 360)
            }
        }
    }

    @Test("a limited-range source's stills come out full range, as JPEG is read: at full size and scaled, within the JPEG's loss of the source frame (the ffmpeg CLI's psnr)")
    func fullRangeImages() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
            // Full size is where the range was once lost: a same-size conversion was a plain copy.
            for (width, prefix) in [(Int32(0), "full-"), (Int32(640), "small-")] {
                let images = try await MediaStills.keyframes(input: input, outputDirectory: directory, prefix: prefix,
                                                             options: KeyframeOptions(maxCount: 1), image: ImageSpec(maxWidth: width))
                let image = try #require(images.first)
                let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                    "-nostdin", "-v", "info", "-nostats", "-i", image.path, "-i", input, "-lavfi",
                    "[1:v]trim=end_frame=1,scale=\(image.width):\(image.height):flags=bicubic,format=yuv420p[ref];[0:v]format=yuv420p[img];[img][ref]psnr=shortest=1",
                    "-f", "null", "-"])
                let line = result.stderr.split(separator: "\n").first { $0.contains("PSNR y:") } ?? ""
                let psnr = Double(line.components(separatedBy: "PSNR y:").last?.split(separator: " ").first ?? "") ?? 0
                #expect(psnr > 40, "\(prefix): \(psnr) dB (limited range tagged full reads about 30 dB)")
            }
        }
    }

    @Test("keyframes: max count and minimum spacing")
    func keyframeOptions() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
            let two = try await MediaStills.keyframes(input: input, outputDirectory: directory, prefix: "a-",
                                                      options: KeyframeOptions(maxCount: 2), image: ImageSpec(maxWidth: 160))
            #expect(two.count == 2)
            let spaced = try await MediaStills.keyframes(input: input, outputDirectory: directory, prefix: "b-",
                                                         options: KeyframeOptions(minIntervalSeconds: 3.5), image: ImageSpec(maxWidth: 160))
            #expect(spaced.count >= 2)
            for (earlier, later) in zip(spaced, spaced.dropFirst()) { #expect(later.timeSeconds - earlier.timeSeconds >= 3.5 - 0.001) }
        }
    }

    @Test("thumbnails at given times land on the frame shown then (within one frame)")
    func thumbnailsAtTimes() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
            let times = [1.0, 2.5, 7.3, 9.9]
            let images = try await MediaStills.thumbnails(input: input, outputDirectory: directory, times: times, image: ImageSpec(maxWidth: 320))
            #expect(images.count == times.count)
            for (image, time) in zip(images, times) {
                #expect(abs(image.timeSeconds - time) <= 1.0 / 30 + 0.001, "asked \(time), got \(image.timeSeconds)")
                #expect(FileManager.default.fileExists(atPath: image.path))
            }
            let even = try await MediaStills.thumbnails(input: input, outputDirectory: directory, prefix: "even-", count: 4, image: ImageSpec(maxWidth: 320))
            #expect(even.map { ($0.timeSeconds * 4).rounded() / 4 } == [1.25, 3.75, 6.25, 8.75])
        }
    }

    @Test("tricky sources come out upright with square pixels", arguments: [
        ("portrait-rotate90.mp4", 720, 1280), ("anamorphic-720x480.mp4", 854, 480), ("odd-853x479.mp4", 854, 480),
        ("h264-10bit.mp4", 640, 360), ("hevc.mkv", 640, 360), ("vp9-opus.webm", 640, 360), ("interlaced-576i.mp4", 720, 576),
    ])
    func trickySources(fixture: String, width: Int, height: Int) async throws {
        try await withDirectory { directory in
            let images = try await MediaStills.thumbnails(input: try ProjectPaths.fixture(fixture), outputDirectory: directory, count: 1,
                                                          image: ImageSpec(maxWidth: 1280, maxHeight: 1280))
            let image = try #require(images.first)
            let measured = try await size(of: image.path)
            #expect(measured.0 == width && measured.1 == height, "\(fixture): \(measured)")
        }
    }

    @Test("the poster is a representative frame, not a black one")
    func poster() async throws {
        try await withDirectory { directory in
            let input = "\(directory)/mostly-black.mp4"
            let made = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                "-v", "error", "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=3", "-f", "lavfi",
                "-i", "testsrc2=size=320x240:rate=25:duration=1", "-filter_complex", "[0][1]concat=n=2:v=1[v]", "-map", "[v]",
                "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", input,
            ])
            #expect(made.succeeded, "\(made.stderr)")
            let poster = try await MediaStills.poster(input: input, outputPath: "\(directory)/poster.jpg")
            #expect(poster.timeSeconds >= 3.0, "chose \(poster.timeSeconds) s, inside the black part")
            let stats = try await ffprobe(["-f", "lavfi", "-i", "movie=\(directory)/poster.jpg,signalstats",
                                           "-show_entries", "frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0"])
            let average = try #require(Double(stats.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(average > 30, "poster average luma \(average)")
        }
    }

    @Test("an all-black video still gets a poster (the best there is), not a crash")
    func blackVideoPoster() async throws {
        try await withDirectory { directory in
            let input = "\(directory)/black.mp4"
            let made = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                "-v", "error", "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", input,
            ])
            #expect(made.succeeded, "\(made.stderr)")
            let poster = try await MediaStills.poster(input: input, outputPath: "\(directory)/poster.jpg")
            #expect(poster.width == 320 && poster.height == 240)
        }
    }

    @Test("storyboard geometry is checked: odd tile widths refused")
    func storyboardGeometry() async throws {
        try await withDirectory { directory in
            await #expect {
                _ = try await MediaStills.storyboard(input: try ProjectPaths.fixture("short-0.5s.mp4"), spritePath: "\(directory)/s.jpg",
                                                     vttPath: "\(directory)/s.vtt", spriteURL: "s.jpg", tileWidth: 161)
            } throws: { error in
                (error as? MediaError)?.code == .invalidArgument
            }
        }
    }

    @Test("the storyboard's sprite has the grid's size and its WebVTT cues cover the duration")
    func storyboard() async throws {
        try await withDirectory { directory in
            let board = try await MediaStills.storyboard(
                input: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"), spritePath: "\(directory)/storyboard.jpg",
                vttPath: "\(directory)/storyboard.vtt", spriteURL: "storyboard.jpg", tileWidth: 160, columns: 3, intervalSeconds: 2)
            #expect(board.count == 5 && board.columns == 3 && board.rows == 2 && board.tileHeight == 90)
            let (width, height) = try await size(of: board.spritePath)
            #expect(width == 480 && height == 180)
            let vtt = try String(contentsOfFile: board.vttPath, encoding: .utf8)
            #expect(vtt.hasPrefix("WEBVTT\n"))
            let cues = vtt.split(separator: "\n").filter { $0.contains(" --> ") }
            #expect(cues.count == 5)
            #expect(cues.first?.hasPrefix("00:00:00.000 --> ") == true)
            #expect(cues.last?.hasSuffix(" --> 00:00:10.000") == true)
            for (earlier, later) in zip(cues, cues.dropFirst()) {
                #expect(earlier.split(separator: " ").last == later.split(separator: " ").first, "cues must be contiguous")
            }
            #expect(vtt.contains("storyboard.jpg#xywh=0,90,160,90"))
        }
    }

    @Test("Swift task cancellation reaches the media loop and stops it at once; a timeout has its own code")
    func cancellationAndTimeout() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
            let times = (0..<3000).map { Double($0 % 100) / 10 }  // seeks back and forth: seconds of work
            let progress = ProgressLog()
            let task = Task {
                try await MediaStills.thumbnails(input: input, outputDirectory: directory, times: times, image: ImageSpec(maxWidth: 64),
                                                 progress: { progress.append($0) })
            }
            // Cancel once the work is under way (other tests may share the cores).
            #expect(await eventually(.seconds(20), every: .milliseconds(20)) { !progress.values.isEmpty })
            let reached = progress.values.last ?? 0
            task.cancel()
            let result = await task.result
            // The shim stops at its next packet: measured in work done after the cancel, not in
            // seconds (which a loaded machine stretches). Without the cancel path all 3000 stills are made.
            let after = (progress.values.last ?? 0) - reached
            #expect(after < 0.02, "\(after * 100) % of the work was done after the cancel")
            guard case .failure(let error) = result else { Issue.record("finished despite the cancel"); return }
            #expect((error as? MediaError)?.code == .canceled)
            let fractions = progress.values
            #expect(!fractions.isEmpty && zip(fractions, fractions.dropFirst()).allSatisfy { $0 <= $1 })

            var limits = MediaLimits()
            limits.timeout = .milliseconds(300)
            await #expect {
                _ = try await MediaStills.thumbnails(input: input, outputDirectory: directory, times: times, image: ImageSpec(maxWidth: 64), limits: limits)
            } throws: { error in
                (error as? MediaError)?.code == .timeout
            }
        }
    }

    @Test("inputs without video and bad inputs give their error codes", arguments: [
        ("audio-only.m4a", MediaError.Code.noStreams), ("bad-truncated-no-moov.mp4", .inputCorrupt),
        ("bad-disguised-playlist.mp4", .formatNotAllowed), ("bad-zero-bytes.mp4", .inputEmpty),
    ])
    func badInputs(fixture: String, code: MediaError.Code) async throws {
        try await withDirectory { directory in
            await #expect {
                _ = try await MediaStills.thumbnails(input: try ProjectPaths.fixture(fixture), outputDirectory: directory, count: 2)
            } throws: { error in
                (error as? MediaError)?.code == code
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(leftovers.isEmpty, "partial output left: \(leftovers)")
        }
    }
}

/// Progress values seen from the shim's thread.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Double] = []
    func append(_ value: Double) { lock.lock(); stored.append(value); lock.unlock() }
    var values: [Double] { lock.lock(); defer { lock.unlock() }; return stored }
}
