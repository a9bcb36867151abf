import Foundation
@testable import MediaWorker
import Testing

/// The stitch of a split package: playlists only, after checking the parts fit together.
@Suite("Package stitcher")
struct PackageStitcherTests {
    func rendition(_ name: String, chunk: Int, segments: ClosedRange<Int>, digest: String = "abc", codecs: String = "avc1.64001e") -> ChunkRendition {
        let folder = "parts/\(chunk)-0000000\(chunk)/\(name)/"
        return ChunkRendition(
            name: name, width: 640, height: 360, frameRate: 30, codecs: codecs, audioChannels: nil, initURI: folder + "init.mp4", initDigest: digest,
            segments: segments.map { .init(uri: folder + String(format: "seg-%05d.m4s", $0), duration: 6) },
            iframes: segments.map { .init(uri: folder + String(format: "seg-%05d.m4s", $0), duration: 2, offset: 0, length: 1000) },
            peakBitrate: 400_000 + chunk * 100_000, averageBitrate: 300_000, iframePeakBitrate: 50_000, iframeAverageBitrate: 40_000,
            durationSeconds: Double(segments.count * 6))
    }

    func chunk(_ index: Int, segments: ClosedRange<Int>, digest: String = "abc", codecs: String = "avc1.64001e") -> PartResult {
        PartResult(asset: String(index), start: Double(segments.lowerBound * 6), end: Double((segments.upperBound + 1) * 6),
                   renditions: [rendition("360p", chunk: index, segments: segments, digest: digest, codecs: codecs)], stills: nil, encodeSeconds: 1, worker: "w")
    }

    @Test("playlists join the chunks' segments in order, point into the parts' folders and use the first chunk's init segment")
    func joins() throws {
        let package = try PackageStitcher.stitch(chunks: [chunk(1, segments: 5...9), chunk(0, segments: 0...4)], audio: nil)
        let media = try #require(package.files["hls/360p/index.m3u8"])
        #expect(media.contains(#"#EXT-X-MAP:URI="../../parts/0-00000000/360p/init.mp4""#))
        #expect(media.contains("../../parts/1-00000001/360p/seg-00005.m4s") && media.contains("#EXT-X-TARGETDURATION:6"))
        let uris = media.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(uris.count == 10 && uris.first == "../../parts/0-00000000/360p/seg-00000.m4s")
        let iframes = try #require(package.files["hls/360p/iframes.m3u8"])
        #expect(iframes.contains("#EXT-X-I-FRAMES-ONLY") && iframes.contains("#EXT-X-BYTERANGE:1000@0"))
        let video = try #require(package.renditions.first)
        #expect(video.peakBitrate == 500_000 && video.averageBitrate == 300_000 && video.segmentCount == 10 && video.durationSeconds == 60)
        #expect(package.files["hls/master.m3u8"]?.contains("360p/index.m3u8") == true)
    }

    @Test("the joined average weighs each chunk by its own length, not by where it ends (as the shim reports a chunk's duration)")
    func averageByLength() throws {
        var first = chunk(0, segments: 0...2), last = chunk(1, segments: 3...3)
        first.renditions[0].durationSeconds = 18
        last.renditions[0].averageBitrate = 600_000
        last.renditions[0].durationSeconds = 24
        let package = try PackageStitcher.stitch(chunks: [first, last], audio: nil)
        let video = try #require(package.renditions.first)
        #expect(video.averageBitrate == 375_000 && video.durationSeconds == 24)
    }

    @Test("parts that do not fit are refused with a code: other parameter sets, a gap, other rungs", arguments: [
        ("digest", "TRANSCODE_CHUNK_MISMATCH"), ("codecs", "TRANSCODE_CHUNK_MISMATCH"), ("gap", "TRANSCODE_CHUNK_GAP"), ("rungs", "TRANSCODE_CHUNK_MISMATCH"),
    ])
    func refuses(defect: String, code: String) {
        var second = chunk(1, segments: 5...9, digest: defect == "digest" ? "other" : "abc", codecs: defect == "codecs" ? "avc1.640028" : "avc1.64001e")
        if defect == "gap" { second = chunk(1, segments: 6...9) }
        if defect == "rungs" { second.renditions[0].name = "720p" }
        do {
            _ = try PackageStitcher.stitch(chunks: [chunk(0, segments: 0...4), second], audio: nil)
            Issue.record("\(defect) was stitched")
        } catch {
            #expect(error.code == code, "\(defect): \(error)")
        }
    }
}
