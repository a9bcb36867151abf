import Foundation
import JobContract
@testable import MediaWorker
import TestSupport
import Testing

/// HEVC and AV1 ladders beside H.264 (issue 16): judged by hls_judge.py (CODECS against the init
/// segment's decoder configuration and the decoder's level), ffprobe and GStreamer. AV1 at low
/// resolution only, to keep the suite short.
@Suite("HEVC and AV1 ladders", .serialized)
struct CodecLadderTests {
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        try await withTestDirectory("codecs", body)
    }

    func boxes(_ heights: [Int]) -> [VideoRung] {
        heights.compactMap { height in VideoLadder.apple.first { $0.maxHeight == height } }
    }

    @Test("h264, hevc and av1 in one pass: a ladder per codec in one master and in the DASH manifest, CODECS from the bitstream, hvc1, keyframes aligned across every rung of every codec")
    func threeCodecs() async throws {
        try await withDirectory { directory in
            var hls = HLSSettings()
            hls.dash = true
            let package = try await HLSPackager.package(
                input: try ProjectPaths.fixture("tracks-12s.mkv"), outputDirectory: directory + "/p",
                rungs: VideoLadder.rungs(boxes([360, 234]), codecs: [.av1, .hevc, .h264]), hls: hls)
            let videos = package.renditions.filter { $0.kind == .video }
            #expect(videos.map(\.playlist).sorted() == ["234p-av1/index.m3u8", "234p-hevc/index.m3u8", "234p/index.m3u8",
                                                       "360p-av1/index.m3u8", "360p-hevc/index.m3u8", "360p/index.m3u8"])
            #expect(videos.map(\.codec) == [.h264, .h264, .hevc, .hevc, .av1, .av1])
            let verdict = try await judgeHLS(package.masterPlaylist)
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            let variants = verdict.facts.variants ?? []
            #expect(variants.count == 6)
            // One IDR / key frame every 2 s, on the same frames in all six (the judge compares them too).
            // The source's video starts 21 ms late (Matroska), so its last frame makes a one-frame segment at 12 s.
            for variant in variants {
                #expect(variant.keyframes == [0.2, 2.2, 4.2, 6.2, 8.2, 10.2, 12.2], "\(variant.uri)")
                #expect(variant.iframe_times == variant.keyframes)
            }
            #expect(variants.filter { $0.codecs.hasPrefix("hvc1.1.6.L") }.count == 2, "\(variants.map(\.codecs))")
            #expect(variants.filter { $0.codecs.hasPrefix("av01.0.") && $0.codecs.contains("M.08,") }.count == 2)
            // The variants a player starts with are H.264.
            let master = try String(contentsOfFile: package.masterPlaylist, encoding: .utf8)
            let streams = master.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-STREAM-INF") }
            #expect(streams.prefix(2).allSatisfy { $0.contains("CODECS=\"avc1.") }, "\(streams)")
            // A master per codec beside the full one, each passing the judge; GStreamer's hlsdemux2 (which
            // switches by bandwidth alone, across codecs) plays each to its end.
            for codec in ["h264", "hevc", "av1"] {
                let single = directory + "/p/master-\(codec).m3u8"
                let text = try String(contentsOfFile: single, encoding: .utf8)
                #expect(text.components(separatedBy: "#EXT-X-STREAM-INF").count == 3, "\(codec)")
                let judged = try await judgeHLS(single)
                #expect(judged.errors.isEmpty, "\(codec): \(judged.errors)")
                #expect(Set((judged.facts.variants ?? []).map { String($0.codecs.prefix(4)) }) == [["h264": "avc1", "hevc": "hvc1", "av1": "av01"][codec]!])
            }
            // The DASH manifest over the same segments: an adaptation set per codec, every segment
            // where its timeline says, bandwidths covering the measured peaks (dash_judge.py, mpegdash).
            let dash = try await judgeDASH(try #require(package.dashManifest))
            #expect(dash.errors.isEmpty, "\(dash.errors)")
            let sets = dash.facts.adaptation_sets ?? []
            #expect(sets.filter { $0.content_type == "video" }.map { $0.codecs.map { String($0.prefix(4)) } } == [["avc1", "avc1"], ["hvc1", "hvc1"], ["av01", "av01"]])
            #expect(sets.filter { $0.content_type == "audio" }.count == 1)
            for representation in dash.facts.representations ?? [] where representation.kind == "video" {
                #expect(representation.keyframes == [0, 6], "\(representation.id)")
            }
            // Video.js 7 (VHS over MSE) in headless Chromium: the H.264 HLS and DASH, and an AV1 rung
            // (Chromium has no HEVC). VHS merges every video set into one ladder, hence the per-codec manifests.
            for manifest in ["master-h264.m3u8", "manifest-h264.mpd", "master-av1.m3u8"] {
                let played = try await playInVideoJS(root: directory + "/p", manifest: manifest)
                #expect(played.ok, "\(manifest): \(played.report)")
            }
            for playlist in ["manifest.mpd", "master-h264.m3u8", "master-hevc.m3u8", "master-av1.m3u8"] {
                let played = try await playInGStreamer(root: directory + "/p", master: playlist, timeout: .seconds(120))
                #expect(played.ok, "\(playlist): \(played.report)")
            }
        }
    }

    @Test("the judge catches CODECS that the bitstream does not bear out")
    func judgeCatchesWrongCodecs() async throws {
        try await withDirectory { directory in
            let package = try await HLSPackager.package(
                input: try ProjectPaths.fixture("tracks-12s.mkv"), outputDirectory: directory + "/p",
                rungs: VideoLadder.rungs(boxes([234]), codecs: [.hevc, .av1]))
            let master = try String(contentsOfFile: package.masterPlaylist, encoding: .utf8)
            try master.replacing(/hvc1\.1\.6\.L\d+/, with: "hvc1.1.6.L150").replacing(/av01\.0\.\d\dM/, with: "av01.0.13M")
                .write(toFile: package.masterPlaylist, atomically: true, encoding: .utf8)
            let verdict = try await judgeHLS(package.masterPlaylist)
            #expect(verdict.errors.contains { $0.contains("hvc1.1.6.L150") && $0.contains("configuration is hvc1.1.6.L") }, "\(verdict.errors)")
            #expect(verdict.errors.contains { $0.contains("av01.0.13M") && $0.contains("seq_level_idx") }, "\(verdict.errors)")
        }
    }

    @Test("HEVC, AV1 or DASH with TS segments, stream copy (or, for DASH, muxed audio) are refused: by the options (JOB_INVALID_FIELD) and by the shim")
    func refusedCombinations() async throws {
        for options in [#"{"codecs":["hevc"],"segment_format":"ts"}"#, #"{"codecs":["av1"],"packaging":"copy"}"#,
                        #"{"dash":true,"audio":"muxed"}"#, #"{"dash":true,"segment_format":"ts"}"#, #"{"dash":true,"packaging":"copy"}"#] {
            do {
                _ = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(options))
                Issue.record("accepted \(options)")
            } catch let error as JobRejection {
                #expect(error.code == .invalidField && (error.message.contains("options.codecs") || error.message.contains("options.dash")), "\(error)")
            }
        }
        let accepted = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(#"{"codecs":["av1","hevc"]}"#))
        #expect(accepted.codecs == [.h264, .hevc, .av1])
        try await withDirectory { directory in
            var hls = HLSSettings()
            hls.segmentFormat = .ts
            await #expect(throws: MediaError.self) {
                _ = try await HLSPackager.package(input: try ProjectPaths.fixture("tracks-12s.mkv"), outputDirectory: directory + "/p",
                                                  rungs: VideoLadder.rungs(boxes([234]), codecs: [.hevc]), hls: hls)
            }
            #expect(!FileManager.default.fileExists(atPath: directory + "/p"))
        }
    }
}
