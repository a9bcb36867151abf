/// Captions from a speech recogniser's words: readable cues of at most two lines of 42
/// characters, a new cue at the end of a sentence, after a pause of `pauseSeconds` or when one
/// would stay on screen longer than `maxCueSeconds`; each from its first word's start to its last
/// word's end (a very short one held up to half a second longer, never into the next).
enum TranscriptCaptions {
    static let pauseSeconds = 0.8
    static let maxCueSeconds = 7.0

    static func cues(_ words: [Transcript.Word]) -> [NarrationCaptions.Cue] {
        var groups: [[Transcript.Word]] = []
        var current: [Transcript.Word] = []
        for word in words {
            if let last = current.last, let first = current.first {
                let sentenceEnded = [".", "?", "!", "…"].contains(last.text.last.map(String.init) ?? "")
                let tooLong = NarrationCaptions.wrap((current + [word]).map(\.text)).count > NarrationCaptions.maxLines
                if sentenceEnded || word.start - last.end >= pauseSeconds || tooLong || word.end - first.start > maxCueSeconds {
                    groups.append(current)
                    current = []
                }
            }
            current.append(word)
        }
        if !current.isEmpty { groups.append(current) }
        var cues = groups.map { group in
            NarrationCaptions.Cue(start: group[0].start, end: group[group.count - 1].end, lines: NarrationCaptions.wrap(group.map(\.text)))
        }
        for index in cues.indices {
            let next = index + 1 < cues.count ? cues[index + 1].start : Double.infinity
            if index > 0 { cues[index].start = max(cues[index].start, cues[index - 1].end) }
            if cues[index].end - cues[index].start < 1 { cues[index].end = min(cues[index].end + 0.5, max(cues[index].end, next)) }
            cues[index].end = max(cues[index].end, cues[index].start + 0.1)
        }
        return cues
    }
}
