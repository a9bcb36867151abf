import Foundation
import JobContract
import MarkupEscaping

/// A static DASH manifest (ISO/IEC 23009-1, `isoff-live` profile) over the fMP4 segments an HLS
/// package already has: CMAF tracks, audio and video apart, so DASH and HLS share every byte.
/// Each representation gets a `SegmentTemplate` with a `SegmentTimeline` (durations vary: the
/// last segment is short, and audio frames do not fall on video segment boundaries).
///
/// A package made in one pass is one period; a stitched one is a period per chunk (each chunk's
/// segments live in its part's folder), linked by period continuity so players do not reset.
enum DASHManifest {
    /// One representation's segments within a period.
    struct Track: Sendable, Equatable {
        enum Kind: String, Sendable { case video, audio, text }
        var id: String
        var kind: Kind
        var codecs: String
        var bandwidth: Int
        var width: Int?
        var height: Int?
        var frameRate: Double?
        var audioChannels: Int?
        var language: String?
        var label: String?
        var isDefault: Bool = false
        /// Relative to the manifest: "360p/init.mp4".
        var initialization: String
        /// Relative to the manifest, with `$Number%05d$`: "360p/seg-$Number%05d$.m4s".
        var media: String
        var startNumber: Int
        var durations: [Double]
        /// Text: one whole WebVTT file (BaseURL) instead of segments.
        var wholeFile: String? = nil
    }

    struct Period: Sendable, Equatable {
        var start: Double
        var tracks: [Track]
    }

    static let fileName = "manifest.mpd"

    /// Milliseconds: EXTINF precision, the finest the segment durations are known to.
    static let timescale = 1000

    /// manifest.mpd with every codec and, with several codecs, a manifest-<codec>.mpd per codec (its
    /// video with the same audio and text), for players that would otherwise cross codecs (Video.js's
    /// VHS merges every video adaptation set into one ladder).
    static func manifests(_ periods: [Period], duration: Double, offset: Double) -> [(codec: VideoCodec?, name: String, text: String)] {
        var manifests: [(codec: VideoCodec?, name: String, text: String)] = [(nil, fileName, render(periods: periods, duration: duration, offset: offset))]
        let codecs = Set(periods.flatMap(\.tracks).filter { $0.kind == .video }.compactMap { HLSRendition.codec(ofCodecs: $0.codecs) })
        guard codecs.count > 1 else { return manifests }
        for codec in codecs.sorted() {
            let only = periods.map { period in
                Period(start: period.start, tracks: period.tracks.filter { $0.kind != .video || HLSRendition.codec(ofCodecs: $0.codecs) == codec })
            }
            manifests.append((codec, "manifest-\(codec.rawValue).mpd", render(periods: only, duration: duration, offset: offset)))
        }
        return manifests
    }

    /// `offset`: the timeline offset every track's decode times carry (`presentationTimeOffset`).
    static func render(periods: [Period], duration: Double, offset: Double) -> String {
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="static" "#
                + #"mediaPresentationDuration="\#(isoDuration(duration))" minBufferTime="PT2S">"#,
        ]
        for (index, period) in periods.enumerated() {
            let end = index + 1 < periods.count ? periods[index + 1].start : duration
            lines.append(#"  <Period id="p\#(index)" start="\#(isoDuration(period.start))" duration="\#(isoDuration(end - period.start))">"#)
            if index > 0 {
                lines.append(#"    <SupplementalProperty schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="p\#(index - 1)"/>"#)
            }
            for set in adaptationSets(period.tracks) {
                lines += adaptationSet(set, periodStart: period.start, offset: offset)
            }
            lines.append("  </Period>")
        }
        lines.append("</MPD>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Video: one adaptation set per codec (a player switches within a set, never across codecs).
    /// Audio and text: one per language and name.
    struct AdaptationSetKey: Hashable, Comparable {
        var order: Int
        var kind: Track.Kind
        var group: String
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.order, lhs.group) < (rhs.order, rhs.group) }
    }

    static func adaptationSets(_ tracks: [Track]) -> [(id: Int, key: AdaptationSetKey, tracks: [Track])] {
        var sets: [AdaptationSetKey: [Track]] = [:]
        for track in tracks {
            let codec = HLSRendition.codec(ofCodecs: track.codecs) ?? .h264
            let key: AdaptationSetKey = switch track.kind {
            case .video: AdaptationSetKey(order: VideoCodec.allCases.firstIndex(of: codec)!, kind: .video, group: codec.rawValue)
            case .audio: AdaptationSetKey(order: 10, kind: .audio, group: track.id)
            case .text: AdaptationSetKey(order: 20, kind: .text, group: track.id)
            }
            sets[key, default: []].append(track)
        }
        // Ids fixed by kind and group, so the same set has the same id in every period.
        return sets.keys.sorted().enumerated().map { index, key in
            (index, key, sets[key]!.sorted { $0.bandwidth < $1.bandwidth })
        }
    }

    static func adaptationSet(_ set: (id: Int, key: AdaptationSetKey, tracks: [Track]), periodStart: Double, offset: Double) -> [String] {
        let first = set.tracks[0]
        var attributes = [#"id="\#(set.id)""#]
        switch set.key.kind {
        case .video:
            attributes += [#"contentType="video""#, #"mimeType="video/mp4""#, #"segmentAlignment="true""#, #"startWithSAP="1""#]
            if let width = set.tracks.compactMap(\.width).max(), let height = set.tracks.compactMap(\.height).max() {
                attributes += [#"maxWidth="\#(width)""#, #"maxHeight="\#(height)""#]
            }
            if let rate = set.tracks.compactMap(\.frameRate).max() { attributes.append(#"maxFrameRate="\#(frameRate(rate))""#) }
        case .audio:
            attributes += [#"contentType="audio""#, #"mimeType="audio/mp4""#, #"segmentAlignment="true""#, #"startWithSAP="1""#]
            if let language = first.language { attributes.append(#"lang="\#(xml(language))""#) }
        case .text:
            attributes += [#"contentType="text""#, #"mimeType="text/vtt""#]
            if let language = first.language { attributes.append(#"lang="\#(xml(language))""#) }
        }
        var lines = ["    <AdaptationSet " + attributes.joined(separator: " ") + ">"]
        if set.key.kind != .video {
            lines.append(#"      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="\#(first.isDefault ? "main" : set.key.kind == .text ? "subtitle" : "alternate")"/>"#)
            if let label = first.label { lines.append("      <Label>\(xml(label))</Label>") }
        }
        for track in set.tracks {
            var representation = [#"id="\#(xml(track.id))""#, #"bandwidth="\#(max(1, track.bandwidth))""#, #"codecs="\#(xml(track.codecs))""#]
            if let width = track.width, let height = track.height {
                representation += [#"width="\#(width)""#, #"height="\#(height)""#, #"sar="1:1""#]
            }
            if let rate = track.frameRate { representation.append(#"frameRate="\#(frameRate(rate))""#) }
            lines.append("      <Representation " + representation.joined(separator: " ") + ">")
            if let channels = track.audioChannels {
                lines.append(#"        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="\#(channels)"/>"#)
            }
            if let file = track.wholeFile {
                lines.append("        <BaseURL>\(xml(file))</BaseURL>")
            } else {
                lines += segmentTemplate(track, periodStart: periodStart, offset: offset)
            }
            lines.append("      </Representation>")
        }
        lines.append("    </AdaptationSet>")
        return lines
    }

    /// The media times of a period start at `periodStart + offset` (the decode times the segments
    /// carry); `presentationTimeOffset` maps that onto the period's start.
    static func segmentTemplate(_ track: Track, periodStart: Double, offset: Double) -> [String] {
        let origin = Int(((periodStart + offset) * Double(timescale)).rounded())
        var lines = [#"        <SegmentTemplate timescale="\#(timescale)" presentationTimeOffset="\#(origin)" "#
            + #"initialization="\#(xml(track.initialization))" media="\#(xml(track.media))" startNumber="\#(track.startNumber)">"#]
        lines.append("          <SegmentTimeline>")
        // Boundaries rounded once, so durations add up to the boundaries exactly (no drift).
        var boundaries = [origin]
        var elapsed = 0.0
        for duration in track.durations {
            elapsed += duration
            boundaries.append(origin + Int((elapsed * Double(timescale)).rounded()))
        }
        var runs: [(duration: Int, repeats: Int)] = []
        for (start, end) in zip(boundaries, boundaries.dropFirst()) {
            let duration = end - start
            if let last = runs.last, last.duration == duration { runs[runs.count - 1].repeats += 1 } else { runs.append((duration, 0)) }
        }
        for (index, run) in runs.enumerated() {
            let start = index == 0 ? #" t="\#(origin)""# : ""
            let repeats = run.repeats > 0 ? #" r="\#(run.repeats)""# : ""
            lines.append(#"            <S\#(start) d="\#(run.duration)"\#(repeats)/>"#)
        }
        lines.append("          </SegmentTimeline>")
        lines.append("        </SegmentTemplate>")
        return lines
    }

    /// xs:duration with millisecond precision: "PT12.033S".
    static func isoDuration(_ seconds: Double) -> String {
        "PT" + String(format: "%.3f", max(0, (seconds * 1000).rounded() / 1000)) + "S"
    }

    static func frameRate(_ rate: Double) -> String {
        let rounded = rate.rounded()
        if abs(rate - rounded) < 0.0005 { return String(Int(rounded)) }
        // NTSC rates as fractions (30000/1001), anything else to the millisecond.
        let ntsc = (rate * 1.001).rounded()
        if abs(rate - ntsc / 1.001) < 0.0005 { return "\(Int(ntsc) * 1000)/1001" }
        return String(format: "%.3f", rate)
    }

    static func xml(_ text: String) -> String { markupEscaped(text) }
}

extension DASHManifest.Track {
    /// A rendition's figures with its segments' place: the bandwidth is the peak segment bit rate
    /// (as BANDWIDTH in HLS), the codecs those of this track alone.
    init(_ rendition: HLSRendition, id: String, initialization: String, media: String, startNumber: Int, durations: [Double]) {
        self.init(id: id, kind: rendition.kind == .video ? .video : .audio, codecs: rendition.codecs, bandwidth: rendition.peakBitrate,
                  width: rendition.width, height: rendition.height, frameRate: rendition.frameRate,
                  audioChannels: rendition.kind == .audio ? rendition.audioChannels : nil, language: AudioTracks.bcp47(rendition.language),
                  label: rendition.kind == .audio ? AudioTracks.name(title: rendition.name, language: rendition.language, number: rendition.isMainAudio ? 0 : 1) : nil,
                  isDefault: rendition.isMainAudio,
                  initialization: initialization, media: media, startNumber: startNumber, durations: durations)
    }
}

extension DASHManifest.Track {
    /// A subtitle rendition as a side-loaded WebVTT file (cue times are the presentation's).
    init(subtitles: SubtitleRendition) {
        self.init(id: subtitles.folder, kind: .text, codecs: "wvtt", bandwidth: 256, width: nil, height: nil, frameRate: nil,
                  audioChannels: nil, language: AudioTracks.bcp47(subtitles.language), label: subtitles.name, isDefault: subtitles.isDefault,
                  initialization: "", media: "", startNumber: 0, durations: [], wholeFile: subtitles.wholeFile)
    }
}
