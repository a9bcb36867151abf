import Foundation
import JobContract

/// The master playlist of an HLS package, written by us rather than by FFmpeg's muxer, whose
/// master lacks measured AVERAGE-BANDWIDTH, FRAME-RATE, I-frame variants and shared audio.
enum MasterPlaylist {
    static let audioGroup = "audio"
    static let subtitleGroup = "subs"
    /// The timeline offset the shim gives packages (MW_HLS_TIMELINE_OFFSET_S) unless B-frames or AAC priming need more.
    static let defaultTimelineOffset = 0.2

    /// One EXT-X-MEDIA per audio rendition, in one group; the main one DEFAULT=YES. NAME is the
    /// stream's title or its language's name (unique in the group), LANGUAGE its BCP 47 tag.
    static func mediaLines(_ audios: [HLSRendition]) -> [String] {
        var names: Set<String> = []
        return audios.enumerated().map { number, audio in
            var name = AudioTracks.name(title: audio.name, language: audio.language, number: number)
            if names.contains(name) { name += " \(number + 1)" }
            names.insert(name)
            var attributes = ["TYPE=AUDIO", "GROUP-ID=\"\(audioGroup)\"", "NAME=\"\(quoted(name))\""]
            if let language = AudioTracks.bcp47(audio.language) { attributes.append("LANGUAGE=\"\(quoted(language))\"") }
            attributes += [number == 0 ? "DEFAULT=YES" : "DEFAULT=NO", "AUTOSELECT=YES"]
            if let channels = audio.audioChannels { attributes.append("CHANNELS=\"\(channels)\"") }
            attributes.append("URI=\"\(audio.playlist)\"")
            return "#EXT-X-MEDIA:" + attributes.joined(separator: ",")
        }
    }

    /// One EXT-X-MEDIA per subtitle rendition; the one the source marks default is DEFAULT=YES
    /// (players show it without being asked), the others only AUTOSELECT (by the viewer's language).
    static func subtitleLines(_ subtitles: [SubtitleRendition]) -> [String] {
        subtitles.map { track in
            var attributes = ["TYPE=SUBTITLES", "GROUP-ID=\"\(subtitleGroup)\"", "NAME=\"\(quoted(track.name))\""]
            if let language = AudioTracks.bcp47(track.language) { attributes.append("LANGUAGE=\"\(quoted(language))\"") }
            attributes += [track.isDefault ? "DEFAULT=YES" : "DEFAULT=NO", "AUTOSELECT=YES", "URI=\"\(track.playlist)\""]
            return "#EXT-X-MEDIA:" + attributes.joined(separator: ",")
        }
    }

    /// A quoted-string may hold neither a double quote nor a line break (RFC 8216 section 4.2).
    static func quoted(_ text: String) -> String {
        String(text.map { $0 == "\"" ? "'" : $0.isNewline ? " " : $0 })
    }

    /// With more than one video codec: a master per codec (`master-hevc.m3u8`…) beside the full
    /// one, each with the same audio, for clients that choose variants by bandwidth alone and
    /// would otherwise cross from one codec to another mid-stream (GStreamer's hlsdemux2 does).
    static func perCodec(_ renditions: [HLSRendition], subtitles: [SubtitleRendition] = []) -> [(codec: VideoCodec, name: String, text: String)] {
        let codecs = Set(renditions.compactMap(\.codec))
        guard codecs.count > 1 else { return [] }
        return codecs.sorted().map { codec in
            (codec, "master-\(codec.rawValue).m3u8", render(renditions.filter { $0.kind != .video || $0.codec == codec }, subtitles: subtitles))
        }
    }

    /// Variants per codec in ascending bandwidth; the audio rendition (when separate) as the one
    /// EXT-X-MEDIA of every variant; one EXT-X-I-FRAME-STREAM-INF per video variant.
    /// No EXT-X-VERSION: none of the tags used needs more than version 1 (RFC 8216 section 7).
    static func render(_ renditions: [HLSRendition], subtitles: [SubtitleRendition] = []) -> String {
        // H.264 first (the variant a player starts with should be one every device plays), then
        // HEVC, then AV1; each codec's ladder in ascending bandwidth.
        let videos = renditions.filter { $0.kind == .video }.sorted {
            ($0.codec ?? .h264, $0.peakBitrate) < ($1.codec ?? .h264, $1.peakBitrate)
        }
        // The main audio rendition first: it is the DEFAULT=YES one.
        let audios = renditions.filter { $0.kind == .audio }.sorted { $0.isMainAudio && !$1.isMainAudio }
        let audio = audios.max { $0.peakBitrate < $1.peakBitrate }
        var lines = ["#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if videos.isEmpty, let main = audios.first {
            // Audio-only input: the main audio rendition is the one variant, the others its alternatives.
            if audios.count > 1 { lines += mediaLines(audios) }
            let group = audios.count > 1 ? ",AUDIO=\"\(audioGroup)\"" : ""
            lines.append("#EXT-X-STREAM-INF:BANDWIDTH=\(audio?.peakBitrate ?? main.peakBitrate),AVERAGE-BANDWIDTH=\(main.averageBitrate),CODECS=\"\(main.codecs)\"\(group)")
            lines.append(main.playlist)
            return lines.joined(separator: "\n") + "\n"
        }
        lines += mediaLines(audios)
        lines += subtitleLines(subtitles)
        for video in videos {
            // A variant's bandwidth covers everything played with it: its largest audio rendition too.
            let peak = video.peakBitrate + (audio?.peakBitrate ?? 0)
            let average = video.averageBitrate + (audios.map(\.averageBitrate).max() ?? 0)
            let codecs = [video.codecs, audio?.codecs].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ",")
            var attributes = ["BANDWIDTH=\(peak)", "AVERAGE-BANDWIDTH=\(average)", "CODECS=\"\(codecs)\""]
            if let width = video.width, let height = video.height { attributes.append("RESOLUTION=\(width)x\(height)") }
            if let rate = video.frameRate { attributes.append("FRAME-RATE=" + String(format: "%.3f", rate)) }
            if audio != nil { attributes.append("AUDIO=\"\(audioGroup)\"") }
            if !subtitles.isEmpty { attributes.append("SUBTITLES=\"\(subtitleGroup)\"") }
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
