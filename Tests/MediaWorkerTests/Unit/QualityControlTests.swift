import Foundation
import JobContract
import MediaWorker
import TestSupport
import Testing

/// Quality control on the transcode's decode: a generated source with known stretches (picture
/// moving 0–2 s, frozen 2–5 s, black with noise 5–8 s, moving to 14 s; a tone with silence
/// 8–11 s), found within a frame.
@Suite("Quality control: black, frozen and silent stretches", .serialized)
struct QualityControlTests {
    static let frame = 1.0 / 25

    /// Lossless picture and PCM sound: the stretches are exactly where they were made.
    static func makeSource(in directory: String) async throws -> String {
        let path = directory + "/qc-source.mkv"
        let video = "testsrc2=s=640x360:r=25:d=2,format=yuv420p[m1];"
            + "testsrc2=s=640x360:r=25:d=0.04,format=yuv420p,loop=loop=74:size=1,setpts=N/25/TB[still];"
            + "color=black:s=640x360:r=25:d=3,format=yuv420p,noise=alls=6:allf=t[black];"
            + "testsrc2=s=640x360:r=25:d=6,format=yuv420p[m2];"
            + "[m1][still][black][m2]concat=n=4:v=1:a=0[v];"
            + "sine=f=440:r=48000:d=8[t1];anullsrc=r=48000:cl=mono:d=3[quiet];sine=f=440:r=48000:d=3[t2];"
            + "[t1][quiet][t2]concat=n=3:v=0:a=1[a]"
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
            "-v", "error", "-y", "-filter_complex", video, "-map", "[v]", "-map", "[a]",
            "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-c:a", "pcm_s16le", path,
        ], timeout: .seconds(120))
        #expect(result.succeeded, "\(result.stderr)")
        return path
    }

    static func expectNear(_ found: [QualityControlReport.Interval], _ expected: [(Double, Double)], tolerance: Double,
                           _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(found.count == expected.count, "\(what): \(found)", sourceLocation: sourceLocation)
        for (interval, (start, end)) in zip(found, expected) {
            #expect(abs(interval.start - start) <= tolerance && abs(interval.end - end) <= tolerance,
                    "\(what): \(interval) against \(start)–\(end)", sourceLocation: sourceLocation)
        }
    }

    @Test("a one-pass transcode reports frozen 2–5 s, black 5–8 s and silence 8–11 s within a frame; off when not asked")
    func onePass() async throws {
        let directory = try makeTestDirectory("qc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await Self.makeSource(in: directory.path)
        var hls = HLSSettings()
        hls.packaging = .encode
        hls.qualityControl = QualityControlOptions()
        let rung = try #require(VideoLadder.apple.first { $0.maxHeight == 234 })
        let package = try await HLSPackager.package(input: source, outputDirectory: directory.path + "/out", rungs: [rung], hls: hls)
        let raw = try #require(package.qualityControl)
        #expect(raw.videoMeasured && raw.audioMeasured && !raw.truncated)
        let report = QualityControlReport.finished([raw], options: QualityControlOptions())
        Self.expectNear(report.frozen, [(2, 5)], tolerance: Self.frame, "frozen")
        Self.expectNear(report.black, [(5, 8)], tolerance: Self.frame, "black")
        Self.expectNear(report.silence, [(8, 11)], tolerance: 0.01, "silence")
        let json = report.json
        #expect(json["black"]?.arrayValue?.first?["start_s"]?.numberValue != nil && json["silence"]?.arrayValue?.count == 1)

        // Longer minimums leave them out; off means no report at all.
        var strict = QualityControlOptions()
        strict.frozenMinSeconds = 4
        strict.blackMinSeconds = 3.5
        strict.silenceMinSeconds = 3.5
        let filtered = QualityControlReport.finished([raw], options: strict)
        #expect(filtered.frozen.isEmpty && filtered.black.isEmpty && filtered.silence.isEmpty)
        hls.qualityControl = nil
        let plain = try await HLSPackager.package(input: source, outputDirectory: directory.path + "/plain", rungs: [rung], hls: hls)
        #expect(plain.qualityControl == nil)
    }

    @Test("the parts of a split package: each sees its range, runs cut by an edge are kept and join up")
    func partsJoin() async throws {
        let directory = try makeTestDirectory("qc-parts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await Self.makeSource(in: directory.path)
        let rung = try #require(VideoLadder.apple.first { $0.maxHeight == 234 })
        var reports: [QualityControlReport] = []
        for (index, part) in [HLSSettings.Part.videoRange(start: 0, end: 6), .videoRange(start: 6, end: nil), .audio].enumerated() {
            var hls = HLSSettings()
            hls.packaging = .encode
            hls.part = part
            hls.qualityControl = QualityControlOptions()
            let package = try await HLSPackager.package(input: source, outputDirectory: directory.path + "/part-\(index)",
                                                        rungs: part == .audio ? [] : [rung], hls: hls)
            reports.append(try #require(package.qualityControl))
        }
        // The black stretch 5–8 s crosses the edge at 6 s: two pieces, one run once joined.
        #expect(reports[0].black.last.map { abs($0.end - 6) < 0.05 } == true, "\(reports[0].black)")
        #expect(reports[1].black.first.map { abs($0.start - 6) < 0.05 } == true, "\(reports[1].black)")
        #expect(reports[2].videoMeasured == false && reports[2].audioMeasured)
        let joined = QualityControlReport.finished(reports, options: QualityControlOptions())
        Self.expectNear(joined.frozen, [(2, 5)], tolerance: Self.frame, "frozen")
        Self.expectNear(joined.black, [(5, 8)], tolerance: Self.frame, "black")
        Self.expectNear(joined.silence, [(8, 11)], tolerance: 0.01, "silence")
    }

    @Test("joining: touching runs merge, short ones go, times to the millisecond")
    func joining() {
        typealias Run = QualityControlReport.Interval
        var a = QualityControlReport(), b = QualityControlReport()
        a.videoMeasured = true
        a.black = [Run(start: 0, end: 0.5), Run(start: 5.0004, end: 6)]
        b.black = [Run(start: 6.02, end: 7.5), Run(start: 9, end: 10)]
        let joined = QualityControlReport.finished([b, a], options: QualityControlOptions())
        #expect(joined.black == [Run(start: 5, end: 7.5)])
        #expect(joined.json["silence"] == .null, "no audio looked at: null, not an empty list")
    }

    @Test("options.qc: on by default, false turns it off, thresholds per kind; the schema refuses what does not fit")
    func options() throws {
        let defaults = try JobOptions.decode(TranscodeJobOptions.self, from: .object([:]))
        #expect(defaults.qc.enabled && !defaults.qcRequested && defaults.qc.blackMinSeconds == 2)
        let off = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(Array(#"{"qc":false}"#.utf8)))
        #expect(!off.qc.enabled && !off.qcRequested)
        let tuned = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(Array(
            #"{"qc":{"black":{"min_duration_s":1,"pixel_threshold":0.05},"silence":{"noise_db":-50}}}"#.utf8)))
        #expect(tuned.qcRequested && tuned.qc.blackMinSeconds == 1 && tuned.qc.blackPixelThreshold == 0.05
                && tuned.qc.blackPictureRatio == 0.98 && tuned.qc.silenceNoiseDB == -50 && tuned.qc.frozenMinSeconds == 2)
        for bad in [#"{"qc":"yes"}"#, #"{"qc":{"black":{"min_duration_s":0}}}"#, #"{"qc":{"loud":{}}}"#, #"{"qc":{"silence":{"noise_db":3}}}"#] {
            #expect(throws: JobRejection.self, "\(bad)") {
                try JobOptions.validate(try JSONValue.parse(Array(bad.utf8)), for: .transcode)
            }
        }
    }
}
