import Foundation
@testable import MediaWorker
import TestSupport
import Testing

/// Media playlists are written in two languages: by the shim while it cuts a one-pass package
/// (CFFmpegShim/package/mw_playlist_writer.c) and by `HLSMediaPlaylist` for stitched and subtitle
/// renditions. Both must say the same thing the same way: Swift reads the shim's and writes it back
/// byte for byte.
@Suite("HLS media playlists: the shim's writer and the Swift one agree")
struct PlaylistWriterAgreementTests {
    @Test("every playlist of a one-pass package (fMP4 and MPEG-TS, media and I-frame) reads and writes back to the same bytes",
          arguments: [HLSSettings.SegmentFormat.fmp4, .ts])
    func shimPlaylistsRoundTrip(format: HLSSettings.SegmentFormat) async throws {
        let directory = try makeTestDirectory("playlists")
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = EncodeSettings()
        settings.preset = "ultrafast"
        var hls = HLSSettings()
        hls.segmentFormat = format
        hls.targetDurationSeconds = 2
        let package = try await HLSPackager.package(
            input: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"), outputDirectory: directory.path + "/package",
            rungs: VideoLadder.apple.filter { $0.maxHeight == 234 }, settings: settings, hls: hls)
        var checked = 0
        for rendition in package.renditions {
            for playlist in [rendition.playlist] + (rendition.iframePlaylist.map { [$0] } ?? []) {
                let text = try String(contentsOfFile: package.directory + "/" + playlist, encoding: .utf8)
                let parsed = HLSMediaPlaylist(parsing: text)
                #expect(parsed.segments.count >= 4, "\(playlist): \(text)")
                #expect(parsed.text == text, "\(playlist) as the shim wrote it:\n\(text)\nas Swift writes it:\n\(parsed.text)")
                checked += 1
            }
        }
        // A video rendition's media and I-frame playlists, and the audio one's.
        #expect(checked >= 3)
    }

    @Test("the writer's rules: lowest version for the tags, target from the written durations, no independent segments for text")
    func writerRules() {
        let vod = HLSMediaPlaylist(segments: [.init(uri: "a.m4s", duration: 5.9996), .init(uri: "b.m4s", duration: 2.4994)], initURI: "init.mp4")
        #expect(vod.version == 6)
        #expect(vod.text.contains("#EXT-X-TARGETDURATION:6\n"))
        #expect(vod.text.contains("#EXTINF:6.000,\na.m4s\n#EXTINF:2.499,\nb.m4s\n"))
        let iframes = HLSMediaPlaylist(segments: [.init(uri: "a.ts", duration: 2, byteRange: .init(length: 900, offset: 376))], iFramesOnly: true)
        #expect(iframes.version == 4)
        #expect(iframes.text.contains("#EXT-X-I-FRAMES-ONLY\n#EXTINF:2.000,\n#EXT-X-BYTERANGE:900@376\na.ts\n"))
        let text = HLSMediaPlaylist(segments: [.init(uri: "seg-00000.vtt", duration: 4)], independentSegments: false)
        #expect(text.version == 3)
        #expect(!text.text.contains("INDEPENDENT"))
        #expect(HLSMediaPlaylist(parsing: iframes.text) == iframes)
        #expect(HLSMediaPlaylist(parsing: vod.text.replacingOccurrences(of: "\n", with: "\r\n")).segments.map(\.uri) == ["a.m4s", "b.m4s"])
    }
}
