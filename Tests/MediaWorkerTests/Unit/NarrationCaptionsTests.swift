import Foundation
@testable import MediaWorker
import Testing

@Suite("Soft captions of a compose job's narration")
struct NarrationCaptionsTests {
    @Test("a cue per sentence, long ones in even cues of at most two 42-character lines, markup escaped; times from the words, else spread by length")
    func cues() {
        let text = "Short & <sweet>. This sentence is far too long to fit in two lines of captions, so it has to become several cues of even length."
        // One word every 0.3 s, each sounding for 0.25 s; the second sentence after a pause.
        var words: [SpeechSynthesizer.Word] = []
        var at = 0.0
        for token in NarrationCaptions.tokens(text) {
            words.append(.init(offset: token.offset, length: token.length, start: at, end: at + 0.25))
            at += token.endsSentence ? 0.8 : 0.3
        }
        let cues = NarrationCaptions.cues([.init(text: text, words: words, start: 10, end: 40)])
        #expect(cues.count >= 3)
        #expect(cues[0].lines == ["Short & <sweet>."] && cues[0].start == 10 && abs(cues[0].end - 10.85) < 1e-9)
        #expect(cues.dropFirst().allSatisfy { $0.lines.count <= 2 && $0.lines.allSatisfy { $0.count <= 42 } })
        #expect(cues.flatMap(\.lines).joined(separator: " ") == text)
        #expect(zip(cues, cues.dropFirst()).allSatisfy { $0.end <= $1.start })
        let lengths = cues.dropFirst().map { $0.lines.joined(separator: " ").count }
        #expect((lengths.max() ?? 0) - (lengths.min() ?? 0) < 30, "\(lengths)")
        #expect(NarrationCaptions.webVTT(cues).contains("Short &amp; &lt;sweet&gt;."))

        let spread = NarrationCaptions.cues([.init(text: "One. Two two.", words: nil, start: 2, end: 6)])
        #expect(spread.map(\.lines) == [["One."], ["Two two."]])
        #expect(spread.first?.start == 2 && spread.last?.end == 6)
        #expect(abs((spread.first?.end ?? 0) - (2 + 4 * 5.0 / 14.0)) < 1e-9)
    }
}
