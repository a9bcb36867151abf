import Foundation

/// Soft captions of a compose job's narration: a cue per sentence (a sentence too long for two
/// lines of `maxLineCharacters` becomes several cues), timed from the words the TTS engine spoke,
/// so they match the audio by construction. Captions that are not the spoken text (a `caption`
/// beside `text`, or a narration file) are spread over their scene by length instead.
enum NarrationCaptions {
    /// The usual broadcast limit: two lines of at most 42 characters.
    static let maxLineCharacters = 42
    static let maxLines = 2

    struct Cue: Equatable, Sendable {
        var start: Double
        var end: Double
        var lines: [String]
    }

    /// A scene's caption and how to time it.
    struct Scene: Sendable {
        var text: String
        /// The words of `text` as spoken, times from the start of its narration; nil: not spoken as written.
        var words: [SpeechSynthesizer.Word]?
        var start: Double
        var end: Double
    }

    /// Every scene's cues on the composition's timeline, in order and never overlapping.
    static func cues(_ scenes: [Scene]) -> [Cue] {
        var cues: [Cue] = []
        for scene in scenes {
            let made = scene.words.map { timed(scene.text, words: $0, offset: scene.start) } ?? spread(scene.text, start: scene.start, end: scene.end)
            for var cue in made {
                cue.start = max(cue.start, cues.last?.end ?? 0, scene.start)
                cue.end = min(max(cue.end, cue.start + 0.001), scene.end)
                if cue.end > cue.start { cues.append(cue) }
            }
        }
        return cues
    }

    /// A whitespace-separated piece of the text with where it sits (Unicode scalar offsets).
    struct Token {
        var text: String
        var offset: Int
        var length: Int
        var endsSentence: Bool
    }

    static func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var current = ""
        var start = 0
        var index = 0
        func close() {
            guard !current.isEmpty else { return }
            // "." "!" "?" (perhaps inside a closing quote or bracket) end a sentence.
            let trimmed = current.trimmingCharacters(in: CharacterSet(charactersIn: "\"'”’)]"))
            let ends = [".", "!", "?", "…"].contains(trimmed.last.map(String.init) ?? "")
            tokens.append(Token(text: current, offset: start, length: current.unicodeScalars.count, endsSentence: ends))
            current = ""
        }
        for scalar in text.unicodeScalars {
            if CharacterSet.whitespacesAndNewlines.contains(scalar) {
                close()
            } else {
                if current.isEmpty { start = index }
                current.unicodeScalars.append(scalar)
            }
            index += 1
        }
        close()
        return tokens
    }

    /// Sentences, each cut into groups of tokens that fit in two lines.
    static func groups(_ tokens: [Token]) -> [[Token]] {
        var sentences: [[Token]] = [[]]
        for token in tokens {
            sentences[sentences.count - 1].append(token)
            if token.endsSentence { sentences.append([]) }
        }
        return sentences.filter { !$0.isEmpty }.flatMap(split)
    }

    /// A sentence in as few cues as fit, of even lengths, broken after a comma when one is near.
    static func split(_ sentence: [Token]) -> [[Token]] {
        let total = sentence.reduce(0) { $0 + $1.text.count + 1 }
        for count in 1...max(1, sentence.count) {
            let target = Double(total) / Double(count)
            var groups: [[Token]] = [[]]
            var length = 0
            for (index, token) in sentence.enumerated() {
                groups[groups.count - 1].append(token)
                length += token.text.count + 1
                guard index < sentence.count - 1, groups.count < count else { continue }
                let pause = [",", ";", ":", "—", "–"].contains(token.text.last.map(String.init) ?? "")
                if Double(length) >= target || (pause && Double(length) >= target * 0.6) {
                    groups.append([])
                    length = 0
                }
            }
            let made = groups.filter { !$0.isEmpty }
            if made.allSatisfy({ wrap($0.map(\.text)).count <= maxLines }) { return made }
        }
        return sentence.map { [$0] }
    }

    /// Greedy wrapping at `maxLineCharacters` (a longer word gets a line of its own).
    static func wrap(_ words: [String]) -> [String] {
        var lines: [String] = []
        for word in words {
            if let last = lines.last, last.count + 1 + word.count <= maxLineCharacters {
                lines[lines.count - 1] = last + " " + word
            } else {
                lines.append(word)
            }
        }
        return lines
    }

    /// Cues timed from the spoken words: a group starts with the first word spoken inside it and
    /// ends with the last. Tokens the engine did not speak (a dash) take their neighbours' times.
    static func timed(_ text: String, words: [SpeechSynthesizer.Word], offset: Double) -> [Cue] {
        groups(tokens(text)).compactMap { group in
            guard let first = group.first, let last = group.last else { return nil }
            let lower = first.offset, upper = last.offset + last.length
            let inside = words.filter { $0.offset >= lower && $0.offset < upper }
            guard let start = inside.map(\.start).min(), let end = inside.map(\.end).max() else { return nil }
            return Cue(start: offset + start, end: offset + end, lines: wrap(group.map(\.text)))
        }
    }

    /// Cues over [start, end] in proportion to their characters.
    static func spread(_ text: String, start: Double, end: Double) -> [Cue] {
        let groups = groups(tokens(text))
        let weights = groups.map { Double($0.reduce(0) { $0 + $1.length + 1 }) }
        let total = weights.reduce(0, +)
        guard total > 0, end > start else { return [] }
        var at = start
        return zip(groups, weights).map { group, weight in
            let next = at + (end - start) * weight / total
            defer { at = next }
            return Cue(start: at, end: next, lines: wrap(group.map(\.text)))
        }
    }

    /// The cues as a WebVTT file; `&`, `<` and `>` escaped (cue text is markup, and "-->" ends a timing).
    static func webVTT(_ cues: [Cue]) -> String {
        WebVTT.render(cues.map { cue in
            WebVTT.Cue(start: cue.start, end: cue.end, settings: "", text: cue.lines.map(escaped))
        }, timelineOffset: nil)
    }

    static func escaped(_ line: String) -> String {
        line.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
