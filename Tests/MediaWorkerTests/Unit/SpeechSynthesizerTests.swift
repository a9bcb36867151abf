import Foundation
import MediaWorker
import TestSupport
import Testing

@Suite("Speech synthesis (libespeak-ng)")
struct SpeechSynthesizerTests {
    @Test("text becomes a mono WAV whose length follows the text; the same text, voice and rate come from the cache")
    func speakAndCache() async throws {
        let directory = try makeTestDirectory("tts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let synthesizer = SpeechSynthesizer(cacheDirectory: directory.path)
        let short = try await synthesizer.speak("Hello.")
        let long = try await synthesizer.speak("MediaWorker turns uploads into streamable and searchable media, frame by frame.")
        #expect(!short.cached && !long.cached)
        let probe = try await CommandRunner.run(try ProjectPaths.tool("ffprobe", package: "ffmpeg"),
                                                ["-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate:format=duration",
                                                 "-of", "csv=p=0", long.path])
        #expect(probe.succeeded && probe.stdout.contains("pcm_s16le,22050,1"), "\(probe.stdout)")
        func duration(_ path: String) async throws -> Double {
            let result = try await CommandRunner.run(try ProjectPaths.tool("ffprobe", package: "ffmpeg"),
                                                     ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
            return Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let shortSeconds = try await duration(short.path), longSeconds = try await duration(long.path)
        #expect(shortSeconds > 0.2 && longSeconds > shortSeconds * 3, "\(shortSeconds) s, \(longSeconds) s")
        let modified = try FileManager.default.attributesOfItem(atPath: long.path)[.modificationDate] as? Date
        let again = try await synthesizer.speak("MediaWorker turns uploads into streamable and searchable media, frame by frame.")
        #expect(again.cached && again.path == long.path)
        #expect(try FileManager.default.attributesOfItem(atPath: long.path)[.modificationDate] as? Date == modified)
        // A different rate is different speech: slower is longer.
        let slow = try await synthesizer.speak("MediaWorker turns uploads into streamable and searchable media, frame by frame.",
                                               voice: .init(wordsPerMinute: 100))
        #expect(!slow.cached)
        #expect(try await duration(slow.path) > longSeconds * 1.3)
    }

    @Test("the cache stays bounded: past its limit the oldest files are removed, the newest kept")
    func cacheBound() async throws {
        let directory = try makeTestDirectory("tts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let synthesizer = SpeechSynthesizer(cacheDirectory: directory.path, maxCachedFiles: 5)
        // Each WAV has its words' times beside it, and they go together.
        func files() throws -> (wav: Int, words: Int) {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            return (names.filter { $0.hasSuffix(".wav") }.count, names.filter { $0.hasSuffix(".words.json") }.count)
        }
        for index in 0..<5 { _ = try await synthesizer.speak("Line number \(index).") }
        #expect(try files() == (5, 5))
        let newest = try await synthesizer.speak("One more line.")
        #expect(try files() == (4, 4))
        let again = try await synthesizer.speak("One more line.")
        #expect(again.cached && FileManager.default.fileExists(atPath: newest.path) && again.words == newest.words)
        // Three words, in order, inside the audio.
        #expect(newest.words.map(\.offset) == [0, 4, 9], "\(newest.words)")
        #expect(zip(newest.words, newest.words.dropFirst()).allSatisfy { $0.start < $0.end && $0.end <= $1.start })
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: newest.path)[.size] as? Int)
        #expect((newest.words.last?.end ?? 99) <= Double(bytes - 44) / (22050 * 2))  // 16-bit mono at 22.05 kHz after a 44-byte header
    }

    @Test("empty text, an unknown voice and an absurd rate are refused with MEDIA_INVALID_ARGUMENT")
    func refusals() async throws {
        let directory = try makeTestDirectory("tts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let synthesizer = SpeechSynthesizer(cacheDirectory: directory.path)
        for (text, voice) in [("", SpeechSynthesizer.Voice()), ("Hi", .init(name: "no-such-voice-xyz")), ("Hi", .init(wordsPerMinute: 5000))] {
            do {
                _ = try await synthesizer.speak(text, voice: voice)
                Issue.record("accepted \(text) \(voice)")
            } catch {
                #expect(error.code == .invalidArgument, "\(error)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
