import Foundation
import JobContract

/// The master playlist of an HLS package, written by us rather than by FFmpeg's muxer, whose
/// master lacks measured AVERAGE-BANDWIDTH, FRAME-RATE, I-frame variants and shared audio.
enum MasterPlaylist {
    static let audioGroup = "audio"

    /// With more than one video codec: a master per codec (`master-hevc.m3u8`…) beside the full
    /// one, each with the same audio, for clients that choose variants by bandwidth alone and
    /// would otherwise cross from one codec to another mid-stream (GStreamer's hlsdemux2 does).
    static func perCodec(_ renditions: [HLSRendition]) -> [(codec: VideoCodec, name: String, text: String)] {
        let codecs = Set(renditions.compactMap(\.codec))
        guard codecs.count > 1 else { return [] }
        return codecs.sorted().map { codec in
            (codec, "master-\(codec.rawValue).m3u8", render(renditions.filter { $0.kind != .video || $0.codec == codec }))
        }
    }

    /// Variants per codec in ascending bandwidth; the audio rendition (when separate) as the one
    /// EXT-X-MEDIA of every variant; one EXT-X-I-FRAME-STREAM-INF per video variant.
    /// No EXT-X-VERSION: none of the tags used needs more than version 1 (RFC 8216 section 7).
    static func render(_ renditions: [HLSRendition]) -> String {
        // H.264 first (the variant a player starts with should be one every device plays), then
        // HEVC, then AV1; each codec's ladder in ascending bandwidth.
        let videos = renditions.filter { $0.kind == .video }.sorted {
            ($0.codec ?? .h264, $0.peakBitrate) < ($1.codec ?? .h264, $1.peakBitrate)
        }
        let audio = renditions.first { $0.kind == .audio }
        var lines = ["#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if videos.isEmpty, let audio {
            // Audio-only input: the audio rendition is the one variant.
            lines.append("#EXT-X-STREAM-INF:BANDWIDTH=\(audio.peakBitrate),AVERAGE-BANDWIDTH=\(audio.averageBitrate),CODECS=\"\(audio.codecs)\"")
            lines.append(audio.playlist)
            return lines.joined(separator: "\n") + "\n"
        }
        if let audio {
            var attributes = ["TYPE=AUDIO", "GROUP-ID=\"\(audioGroup)\"", "NAME=\"Main\"", "DEFAULT=YES", "AUTOSELECT=YES"]
            if let channels = audio.audioChannels { attributes.append("CHANNELS=\"\(channels)\"") }
            attributes.append("URI=\"\(audio.playlist)\"")
            lines.append("#EXT-X-MEDIA:" + attributes.joined(separator: ","))
        }
        for video in videos {
            // A variant's bandwidth covers everything played with it: its audio rendition too.
            let peak = video.peakBitrate + (audio?.peakBitrate ?? 0)
            let average = video.averageBitrate + (audio?.averageBitrate ?? 0)
            let codecs = [video.codecs, audio?.codecs].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ",")
            var attributes = ["BANDWIDTH=\(peak)", "AVERAGE-BANDWIDTH=\(average)", "CODECS=\"\(codecs)\""]
            if let width = video.width, let height = video.height { attributes.append("RESOLUTION=\(width)x\(height)") }
            if let rate = video.frameRate { attributes.append("FRAME-RATE=" + String(format: "%.3f", rate)) }
            if audio != nil { attributes.append("AUDIO=\"\(audioGroup)\"") }
            lines.append("#EXT-X-STREAM-INF:" + attributes.joined(separator: ","))
            lines.append(video.playlist)
        }
        for video in videos {
            guard let iframes = video.iframePlaylist, let peak = video.iframePeakBitrate else { continue }
            let videoCodec = video.codecs.split(separator: ",").first { !$0.hasPrefix("mp4a") }.map(String.init) ?? video.codecs
            var attributes = ["BANDWIDTH=\(peak)"]
            if let average = video.iframeAverageBitrate { attributes.append("AVERAGE-BANDWIDTH=\(average)") }
            attributes.append("CODECS=\"\(videoCodec)\"")
            if let width = video.width, let height = video.height { attributes.append("RESOLUTION=\(width)x\(height)") }
            attributes.append("URI=\"\(iframes)\"")
            lines.append("#EXT-X-I-FRAME-STREAM-INF:" + attributes.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
