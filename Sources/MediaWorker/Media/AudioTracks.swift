import Foundation
import JobContract

/// Which audio streams of a source become audio renditions, and how players are told about them.
enum AudioTracks {
    struct NotFound: Error, CustomStringConvertible {
        var pick: AudioTrackPick
        var description: String {
            switch pick {
            case .number(let number): "the source has no audio stream number \(number)"
            case .language(let language): "the source has no audio stream in \(language)"
            }
        }
    }

    /// Source stream indices, the main one first: the one the source marks default among those
    /// chosen (else the first), then the others in source order. `picks` nil: every audio stream.
    static func streams(_ info: MediaInfo, picks: [AudioTrackPick]?) throws(NotFound) -> [Int] {
        let audio = info.audioStreams
        var chosen: [StreamInfo] = []
        for pick in picks ?? audio.indices.map(AudioTrackPick.number) {
            let matches: [StreamInfo] = switch pick {
            case .number(let number): audio.indices.contains(number) ? [audio[number]] : []
            case .language(let language): audio.filter { stream in stream.language.map { sameLanguage($0, language) } ?? false }
            }
            guard !matches.isEmpty else { throw NotFound(pick: pick) }
            for stream in matches where !chosen.contains(where: { $0.index == stream.index }) { chosen.append(stream) }
        }
        chosen = Array(chosen.prefix(8)).sorted { $0.index < $1.index }
        if let main = chosen.firstIndex(where: \.isDefault) { chosen.insert(chosen.remove(at: main), at: 0) }
        return chosen.map(\.index)
    }

    /// A BCP 47 tag for a stream's language tag (ISO 639-2 "fra" → "fr"); nil for none or "und".
    static func bcp47(_ tag: String?) -> String? {
        guard let tag, !tag.isEmpty, tag != "und" else { return nil }
        let language = Locale.Language(identifier: tag)
        return language.languageCode?.identifier(.alpha2) ?? tag
    }

    static func sameLanguage(_ a: String, _ b: String) -> Bool {
        a.lowercased() == b.lowercased() || bcp47(a)?.lowercased() == bcp47(b)?.lowercased()
    }

    /// What a player lists: the stream's title, else its language's English name, else `fallback`
    /// (for audio: "Main" for the main rendition, "Audio 2"… for the others).
    static func name(title: String?, language: String?, number: Int, fallback: String? = nil) -> String {
        if let title, !title.isEmpty { return title }
        if let code = bcp47(language), let name = Locale(identifier: "en").localizedString(forLanguageCode: code) { return name }
        return fallback ?? (number == 0 ? "Main" : "Audio \(number + 1)")
    }
}
