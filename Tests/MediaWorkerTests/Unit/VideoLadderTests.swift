import Foundation
@testable import MediaWorker
import Testing

@Suite("Ladder selection and the master playlist")
struct VideoLadderTests {
    func info(width: Int, height: Int, sar: String = "1:1", rotation: Int = 0) -> MediaInfo {
        MediaInfo(container: "mov,mp4,m4a,3gp,3g2,mj2", durationSeconds: 10, bitRate: nil, sizeBytes: nil, streams: [
            StreamInfo(index: 0, type: .video, codec: "h264", profile: nil, level: nil, bitRate: nil, durationSeconds: 10,
                       width: width, height: height, sampleAspectRatio: sar, averageFrameRate: "30/1", realFrameRate: "30/1",
                       pixelFormat: "yuv420p", bitDepth: 8, rotation: rotation, fieldOrder: "progressive", isAttachedPicture: false,
                       sampleRate: nil, channels: nil, channelLayout: nil, sampleFormat: nil),
        ])
    }

    @Test("only rungs at or below the source, by its displayed short side")
    func rungSelection() {
        #expect(VideoLadder.rungs(for: info(width: 1920, height: 1080)).map(\.maxHeight) == [234, 360, 540, 720, 1080])
        #expect(VideoLadder.rungs(for: info(width: 1280, height: 720)).map(\.maxHeight) == [234, 360, 540, 720])
        #expect(VideoLadder.rungs(for: info(width: 853, height: 479)).map(\.maxHeight) == [234, 360])
        // Portrait (by rotation): the short side is the width shown.
        #expect(VideoLadder.rungs(for: info(width: 1280, height: 720, rotation: 90)).map(\.maxHeight) == [234, 360, 540, 720])
        // Anamorphic 720x480 at 32:27 shows 853x480.
        #expect(VideoLadder.rungs(for: info(width: 720, height: 480, sar: "32:27")).map(\.maxHeight) == [234, 360])
        // Smaller than every rung: the lowest, which the shim fits to the source's own size.
        #expect(VideoLadder.rungs(for: info(width: 160, height: 90)).map(\.maxHeight) == [234])
        #expect(VideoLadder.rungs(for: MediaInfo(container: "wav", durationSeconds: 1, bitRate: nil, sizeBytes: nil, streams: [])).isEmpty)
    }

    func rendition(_ kind: HLSRendition.Kind, height: Int, peak: Int, codecs: String) -> HLSRendition {
        let name = kind == .audio ? "audio" : "\(height)p"
        return HLSRendition(
            kind: kind, playlist: "\(name)/index.m3u8", iframePlaylist: kind == .video ? "\(name)/iframes.m3u8" : nil,
            width: kind == .video ? height * 16 / 9 : nil, height: kind == .video ? height : nil,
            frameRate: kind == .video ? 30000.0 / 1001 : nil, codecs: codecs, peakBitrate: peak, averageBitrate: peak,
            iframePeakBitrate: kind == .video ? 100_000 : nil, iframeAverageBitrate: kind == .video ? 90_000 : nil,
            audioChannels: kind == .audio ? 2 : nil, segmentCount: 2, durationSeconds: 10)
    }

    @Test("master playlist: variants by bandwidth with the audio rendition's share, I-frame variants, no version tag")
    func masterPlaylist() {
        let renditions = [
            rendition(.video, height: 720, peak: 3_000_000, codecs: "avc1.64001f"),
            rendition(.video, height: 360, peak: 800_000, codecs: "avc1.64001e"),
            rendition(.audio, height: 0, peak: 130_000, codecs: "mp4a.40.2"),
        ]
        let text = MasterPlaylist.render(renditions)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "#EXTM3U")
        #expect(!text.contains("EXT-X-VERSION"))
        #expect(lines.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Main\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\""))
        let variants = lines.filter { $0.hasPrefix("#EXT-X-STREAM-INF:") }
        #expect(variants.count == 2)
        #expect(variants[0].hasPrefix("#EXT-X-STREAM-INF:BANDWIDTH=930000,AVERAGE-BANDWIDTH=930000,CODECS=\"avc1.64001e,mp4a.40.2\""))
        #expect(variants[0].contains("RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO=\"audio\""))
        #expect(lines.filter { $0.hasPrefix("#EXT-X-I-FRAME-STREAM-INF:") }.count == 2)
        #expect(lines.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,AVERAGE-BANDWIDTH=90000,CODECS=\"avc1.64001f\",RESOLUTION=1280x720,URI=\"720p/iframes.m3u8\""))
    }
}

@Suite("Output paths")
struct OutputPathTests {
    @Test("a path's folder and name, also for bare names (which crashed Foundation's NSString path API)")
    func split() {
        #expect(splitPath("c") == (".", "c"))
        #expect(splitPath("out/package") == ("out", "package"))
        #expect(splitPath("/package/") == ("/", "package"))
        #expect(splitPath("/a/b/c.mp4") == ("/a/b", "c.mp4"))
    }
}
