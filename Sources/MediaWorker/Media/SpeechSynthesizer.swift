import CFFmpegShim
import Crypto
import Foundation

/// Narration for scenes that have text and no audio: libespeak-ng through the shim, cached by a
/// hash of text, voice and rate, so a retried or repeated job does not synthesize it again.
public struct SpeechSynthesizer: Sendable {
    public struct Voice: Sendable, Equatable {
        public var name: String = "en"
        public var wordsPerMinute: Int = 175
        public var pitch: Int = 50
        public init(name: String = "en", wordsPerMinute: Int = 175, pitch: Int = 50) {
            self.name = name
            self.wordsPerMinute = wordsPerMinute
            self.pitch = pitch
        }
    }

    /// A word as it was spoken: its place in the text (Unicode scalars from 0) and when it is
    /// heard in the WAV, in seconds.
    public struct Word: Sendable, Equatable, Codable {
        public var offset: Int
        public var length: Int
        public var start: Double
        public var end: Double
    }

    /// What `speak` returns: the WAV, its words' times and whether it came from the cache.
    public struct Speech: Sendable, Equatable {
        public var path: String
        public var words: [Word]
        public var cached: Bool
    }

    public let cacheDirectory: String
    /// Past this many files the oldest are removed (down to 80 %).
    public let maxCachedFiles: Int

    public init(cacheDirectory: String, maxCachedFiles: Int = 5000) {
        self.cacheDirectory = cacheDirectory
        self.maxCachedFiles = maxCachedFiles
    }

    /// The cache key: text, voice, rate and pitch (and the engine, so an upgrade re-speaks).
    static func key(text: String, voice: Voice) -> String {
        let material = ["espeak-ng-2", voice.name, String(voice.wordsPerMinute), String(voice.pitch), text].joined(separator: "\u{0}")
        return SHA256.hash(data: Data(material.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public func speak(_ text: String, voice: Voice = Voice()) async throws(MediaError) -> Speech {
        let path = cacheDirectory + "/" + Self.key(text: text, voice: voice) + ".wav"
        let timesPath = path.dropLast(4) + ".words.json"
        // The times are written after the WAV: a WAV without them (another job mid-write) is spoken again.
        if FileManager.default.fileExists(atPath: path), let data = FileManager.default.contents(atPath: String(timesPath)),
           let words = try? JSONDecoder().decode([Word].self, from: data) {
            return Speech(path: path, words: words, cached: true)
        }
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw MediaError(code: .outputFailed, message: "cannot create the speech cache \(cacheDirectory)")
        }
        guard voice.name.utf8.count < 64, voice.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_+".contains($0) }) else {
            throw MediaError(code: .invalidArgument, message: "voice names are letters, digits, '-', '_' or '+'")
        }
        let capacity = text.unicodeScalars.count + 1
        let spoken = try await ShimCall.run(SpeechCallbacks(progress: nil)) { callbacks, token, message in
            var options = mw_speech_options()
            mw_speech_options_init_default(&options)
            withUnsafeMutableBytes(of: &options.voice) { buffer in
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                for (index, byte) in voice.name.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
            }
            options.rate_wpm = Int32(clamping: voice.wordsPerMinute)
            options.pitch = Int32(clamping: voice.pitch)
            var duration = 0.0
            var raw = [mw_speech_word](repeating: mw_speech_word(), count: capacity)
            var count: Int32 = 0
            // Written under its final name by rename, so a concurrent reader never sees half a file.
            let status = raw.withUnsafeMutableBufferPointer { buffer in
                mw_synthesize_speech_timed(text, &options, path, token.raw, &duration, buffer.baseAddress, Int32(capacity), &count, message, 512)
            }
            callbacks.words = raw.prefix(Int(count)).map {
                Word(offset: Int($0.text_offset), length: Int($0.text_length), start: $0.start_s, end: $0.end_s)
            }
            return status
        }
        let words = spoken.words
        if let data = try? JSONEncoder().encode(words) {
            try? data.write(to: URL(fileURLWithPath: String(timesPath)), options: .atomic)
        }
        trimCache()
        return Speech(path: path, words: words, cached: false)
    }

    /// Keeps the cache bounded: the oldest files go first. Races with another
    /// process trimming are harmless (a file removed twice, or spoken again later).
    func trimCache() {
        let manager = FileManager.default
        let names = ((try? manager.contentsOfDirectory(atPath: cacheDirectory)) ?? []).filter { $0.hasSuffix(".wav") }
        guard names.count > maxCachedFiles else { return }
        let dated = names.map { name -> (String, Date) in
            let path = cacheDirectory + "/" + name
            return (path, (try? manager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast)
        }.sorted { $0.1 < $1.1 }
        for (path, _) in dated.prefix(max(0, dated.count - maxCachedFiles * 4 / 5)) {
            try? manager.removeItem(atPath: path)
            try? manager.removeItem(atPath: String(path.dropLast(4)) + ".words.json")
        }
    }
}

/// Carries the spoken words out of the shim call.
final class SpeechCallbacks: ShimCallbacks, @unchecked Sendable {
    var words: [SpeechSynthesizer.Word] = []
}
