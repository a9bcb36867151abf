import Foundation

/// WebVTT as the shim writes it, cut into HLS segments: each segment repeats the cues that
/// overlap it (RFC 8216 section 3.5), and maps its local times onto the package's media timeline
/// with X-TIMESTAMP-MAP (the fMP4 segments carry the timeline offset in their decode times).
enum WebVTT {
    struct Cue: Equatable, Sendable {
        var start: Double
        var end: Double
        /// The cue's own lines after its timing line (settings stay on the timing line).
        var settings: String
        var text: [String]
    }

    /// The cues of a WebVTT file (NOTE, STYLE and REGION blocks are dropped).
    static func cues(_ text: String) -> [Cue] {
        let blocks = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
        return blocks.compactMap { block in
            let lines = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let timing = lines.firstIndex(where: { $0.contains("-->") }) else { return nil }
            let parts = lines[timing].components(separatedBy: "-->")
            guard parts.count == 2, let start = seconds(parts[0]) else { return nil }
            let rest = parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard let first = rest.first, let end = seconds(String(first)), end > start else { return nil }
            let settings = rest.count > 1 ? String(rest[1]) : ""
            let body = lines[(timing + 1)...].filter { !$0.isEmpty }
            return body.isEmpty ? nil : Cue(start: start, end: end, settings: settings, text: Array(body))
        }
    }

    /// "01:02:03.456" or "02:03.456" in seconds.
    static func seconds(_ text: String) -> Double? {
        let fields = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard (2...3).contains(fields.count), let last = Double(fields.last!) else { return nil }
        return fields.dropLast().reduce(0.0) { total, field in total * 60 + (Double(field) ?? .nan) } * 60 + last
    }

    static func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, seconds) * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60, milliseconds / 1000 % 60, milliseconds % 1000)
    }

    static func render(_ cues: [Cue], timelineOffset: Double?) -> String {
        var text = "WEBVTT\n"
        if let timelineOffset {
            text += "X-TIMESTAMP-MAP=MPEGTS:\(Int((timelineOffset * 90_000).rounded())),LOCAL:00:00:00.000\n"
        }
        for cue in cues {
            text += "\n\(timestamp(cue.start)) --> \(timestamp(cue.end))\(cue.settings.isEmpty ? "" : " " + cue.settings)\n"
            text += cue.text.joined(separator: "\n") + "\n"
        }
        return text
    }

    /// Segments of `segmentSeconds` over `duration` (the package's), each with the cues overlapping
    /// it, and the media playlist listing them.
    static func segmented(_ cues: [Cue], duration: Double, segmentSeconds: Double, timelineOffset: Double)
        -> (segments: [(name: String, text: String)], playlist: String) {
        // A last stretch shorter than half a second joins the segment before, as the media's does.
        let tail = min(0.5, segmentSeconds / 4)
        let count = max(1, Int(((duration - tail) / segmentSeconds).rounded(.up)))
        var segments: [(name: String, text: String)] = []
        var durations: [Double] = []
        for index in 0..<count {
            let start = Double(index) * segmentSeconds
            let end = index == count - 1 ? max(duration, start) : start + segmentSeconds
            let inside = cues.filter { $0.start < end && $0.end > start }
            segments.append((String(format: "seg-%05d.vtt", index), render(inside, timelineOffset: timelineOffset)))
            durations.append(end - start)
        }
        let playlist = HLSMediaPlaylist(segments: zip(segments, durations).map { .init(uri: $0.name, duration: $1) },
                                        independentSegments: false).text
        return (segments, playlist)
    }
}
