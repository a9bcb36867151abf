import CFFmpegShim
import Foundation

/// What a speech recognition engine heard in an audio track: words with their times (seconds
/// from the input's start), and which engine and model heard them.
public struct Transcript: Sendable, Equatable {
    public struct Word: Sendable, Equatable {
        public var text: String
        public var start: Double
        public var end: Double
    }

    /// `whisper` or `pocketsphinx`.
    public var engine: String
    public var implementation: String
    public var model: String
    public var language: String
    public var words: [Word]
    /// Whether each word has its own times (Whisper), or an utterance's words share its span
    /// in proportion to their length (pocketsphinx).
    public var timedByWord: Bool
    public var audioSeconds: Double
    /// Wall time the recognition took (extraction included).
    public var seconds: Double

    /// Seconds of work per second of audio.
    public var realTimeFactor: Double { audioSeconds > 0 ? seconds / audioSeconds : 0 }
}

/// Automatic captions' speech recognition: Whisper as a program of its own (`MW_ASR_COMMAND`: it
/// reads a 16 kHz mono WAV the shim writes and prints JSON words), or pocketsphinx in process
/// through libavfilter's `asr` filter, the fallback that needs nothing but Debian's model.
public enum SpeechRecognition {
    public static func transcribe(input: String, stream: Int, language: String, settings: SpeechRecognitionSettings,
                                  workDirectory: String, limits: MediaLimits = MediaLimits()) async throws(MediaError) -> Transcript {
        guard let engine = settings.engine else {
            throw MediaError(code: .invalidArgument, message: "no speech recognition engine is configured")
        }
        let started = ContinuousClock.now
        var transcript: Transcript
        switch engine {
        case .whisper(let command, let model):
            let wav = workDirectory + "/speech-16k.wav"
            let audioSeconds = try await extract(input: input, stream: stream, to: wav, limits: limits)
            defer { try? FileManager.default.removeItem(atPath: wav) }
            transcript = try await whisper(command: command, model: model, wav: wav, language: language, audioSeconds: audioSeconds,
                                           timeout: max(60, audioSeconds * settings.timeoutPerSecond), workDirectory: workDirectory)
        case .pocketsphinx(let model):
            guard language.lowercased().hasPrefix("en") else {
                throw MediaError(code: .invalidArgument, message: "the pocketsphinx engine has an English (en-us) model only, not '\(language)'")
            }
            transcript = try await pocketsphinx(input: input, stream: stream, model: model, limits: limits)
        }
        let elapsed = ContinuousClock.now - started
        transcript.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return transcript
    }

    static func extract(input: String, stream: Int, to wav: String, limits: MediaLimits) async throws(MediaError) -> Double {
        let callbacks = try await ShimCall.run(DurationCallbacks(progress: nil)) { callbacks, token, message in
            var shimLimits = limits.shimValue
            return mw_extract_speech_audio(input, Int32(stream), wav, &shimLimits, token.raw, nil, nil, &callbacks.duration, message, 512)
        }
        return callbacks.duration
    }

    /// The engine's JSON: {"engine", "implementation", "model", "language", "words": [{"word", "start", "end"}]}.
    struct EngineOutput: Decodable {
        struct Word: Decodable {
            var word: String
            var start: Double
            var end: Double
        }

        var implementation: String?
        var model: String?
        var language: String?
        var words: [Word]
    }

    static func whisper(command: [String], model: String?, wav: String, language: String, audioSeconds: Double, timeout: Double,
                        workDirectory: String) async throws(MediaError) -> Transcript {
        var arguments = Array(command.dropFirst()) + ["--audio", wav, "--language", language]
        if let model { arguments += ["--model", model] }
        let run = try await ExternalProgram.run(command[0], arguments, timeoutSeconds: timeout, workDirectory: workDirectory)
        if run.status == 3 {
            throw MediaError(code: .speechLanguageUnsupported, message: "the Whisper engine cannot hear '\(language)': \(run.stderr.suffix(300))")
        }
        guard run.status == 0 else {
            throw MediaError(code: .speechRecognitionFailed, message: "the Whisper engine exited with \(run.status): \(run.stderr.suffix(300))")
        }
        guard let output = try? JSONDecoder().decode(EngineOutput.self, from: run.stdout) else {
            throw MediaError(code: .speechRecognitionFailed, message: "the Whisper engine's output is not the expected JSON: \(String(decoding: run.stdout.prefix(200), as: UTF8.self))")
        }
        let words = output.words.filter { $0.start.isFinite && $0.end.isFinite && $0.end >= $0.start && $0.start >= 0 }
            .map { Transcript.Word(text: $0.word, start: $0.start, end: $0.end) }
        return Transcript(engine: "whisper", implementation: output.implementation ?? command.joined(separator: " "), model: output.model ?? model ?? "",
                          language: output.language ?? language, words: words, timedByWord: true, audioSeconds: audioSeconds, seconds: 0)
    }

    static func pocketsphinx(input: String, stream: Int, model: String, limits: MediaLimits) async throws(MediaError) -> Transcript {
        let files = SpeechRecognitionSettings.pocketsphinxFiles(model)
        let callbacks = try await ShimCall.run(UtteranceCallbacks(progress: nil)) { callbacks, token, message in
            var shimLimits = limits.shimValue
            var count: Int32 = 0
            let status = callbacks.utterances.withUnsafeMutableBufferPointer { buffer in
                mw_recognize_speech(input, Int32(stream), files.hmm, files.dict, files.lm, &shimLimits, token.raw, nil, nil,
                                    buffer.baseAddress, Int32(buffer.count), &count, &callbacks.duration, message, 512)
            }
            callbacks.count = Int(count)
            return status
        }
        // An utterance's words share its span in proportion to their length (the filter gives no word times).
        var words: [Transcript.Word] = []
        for utterance in callbacks.utterances.prefix(callbacks.count) {
            let text = withUnsafeBytes(of: utterance.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init).filter { !$0.hasPrefix("<") && !$0.hasPrefix("[") }
            let total = Double(tokens.reduce(0) { $0 + $1.count + 1 })
            var at = utterance.start_s
            for token in tokens {
                let span = (utterance.end_s - utterance.start_s) * Double(token.count + 1) / max(total, 1)
                words.append(Transcript.Word(text: token, start: at, end: at + span))
                at += span
            }
        }
        return Transcript(engine: "pocketsphinx", implementation: "libavfilter asr (CMU pocketsphinx 5prealpha)", model: (model as NSString).lastPathComponent,
                          language: "en", words: words, timedByWord: false, audioSeconds: callbacks.duration, seconds: 0)
    }
}

final class DurationCallbacks: ShimCallbacks, @unchecked Sendable {
    var duration = 0.0
}

final class UtteranceCallbacks: ShimCallbacks, @unchecked Sendable {
    var utterances = [mw_utterance](repeating: mw_utterance(), count: 4096)
    var count = 0
    var duration = 0.0
}
