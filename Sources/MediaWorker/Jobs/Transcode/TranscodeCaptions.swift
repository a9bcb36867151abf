import Foundation
import JobContract

/// `options.captions.auto` of a transcode: the main audio track transcribed by the worker's engine
/// into a WebVTT file that the package takes as a subtitle rendition ("English (auto)"), and
/// `data.captions` saying which engine heard it and how fast.
enum TranscodeCaptions {
    static let unavailable = "CAPTIONS_ENGINE_UNAVAILABLE"

    /// Refuses before any download a job this worker cannot caption.
    static func check(_ options: AutoCaptionOptions?, settings: SpeechRecognitionSettings) throws(JobFailure) {
        guard let options, options.auto else { return }
        switch settings.engine {
        case nil:
            throw JobFailure(code: unavailable, message: "options.captions.auto needs a speech recognition engine: MW_ASR_COMMAND (Whisper) or Debian's pocketsphinx-en-us", retryable: false)
        case .pocketsphinx where !options.language.lowercased().hasPrefix("en"):
            throw JobFailure(code: unavailable, message: "the worker's engine is pocketsphinx with an English model only: it cannot caption '\(options.language)' (set MW_ASR_COMMAND for Whisper)", retryable: false)
        default:
            return
        }
    }

    /// Transcribes `stream` and writes its cues (a rendition without cues when nothing was heard).
    static func make(_ options: AutoCaptionOptions, input: String, stream: Int, io: JobIO, pipeline: PipelineContext) async throws(JobFailure)
        -> (source: SubtitleSource, report: JSONValue) {
        let transcript: Transcript
        do {
            transcript = try await SpeechRecognition.transcribe(input: input, stream: stream, language: options.language, settings: pipeline.speechRecognition,
                                                                 workDirectory: io.directory, limits: pipeline.mediaLimits)
        } catch {
            throw JobFailure(error)
        }
        let cues = TranscriptCaptions.cues(transcript.words)
        let path = io.directory + "/captions-auto.vtt"
        do {
            try NarrationCaptions.webVTT(cues).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw JobFailure(code: "MEDIA_OUTPUT_FAILED", message: "cannot write the automatic captions: \(error.localizedDescription)", retryable: true)
        }
        let name = AudioTracks.name(title: nil, language: options.language, number: 0, fallback: options.language) + " (auto)"
        var report: [String: JSONValue] = [
            "engine": .string(transcript.engine), "implementation": .string(transcript.implementation), "model": .string(transcript.model),
            "language": .string(options.language), "name": .string(name), "words": .integer(transcript.words.count), "cues": .integer(cues.count),
            "word_timing": .string(transcript.timedByWord ? "word" : "utterance"),
            "audio_s": .double((transcript.audioSeconds * 1000).rounded() / 1000),
            "realtime_factor": .double((transcript.realTimeFactor * 1000).rounded() / 1000),
        ]
        if transcript.engine == "pocketsphinx" {
            // Said, not hidden: the fallback hears far less than Whisper (docs/media.md has the figures).
            report["note"] = .string("fallback engine: lower accuracy, no punctuation; cue times from utterances, words spread over them")
        }
        return (SubtitleSource(path: path, streamIndex: nil, language: options.language, name: name), .object(report))
    }
}
