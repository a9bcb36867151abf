import CFFmpegShim
import Foundation

/// `MW_ASR_ENGINE`, `MW_ASR_COMMAND`, `MW_ASR_MODEL`, `MW_ASR_POCKETSPHINX_MODEL`: the engine of
/// automatic captions (`options.captions.auto`). Checked at start-up: an engine asked for that is
/// not there stops the worker with its variable named, rather than failing jobs one by one.
public struct SpeechRecognitionSettings: Sendable, Equatable {
    public enum Engine: Sendable, Equatable {
        /// A program of its own (Whisper): the command's words, and the model it is told to use.
        case whisper(command: [String], model: String?)
        /// libavfilter's asr filter (CMU pocketsphinx) in process, with a model folder.
        case pocketsphinx(model: String)
    }

    /// nil: automatic captions are not offered (jobs asking for them fail with CAPTIONS_ENGINE_UNAVAILABLE).
    public var engine: Engine?
    /// How long the external engine may take per second of audio before it is stopped (and at least a minute).
    public var timeoutPerSecond: Double = 5

    public static let defaultPocketsphinxModel = "/usr/share/pocketsphinx/model/en-us"

    public init(engine: Engine? = nil) { self.engine = engine }

    /// A pocketsphinx model folder as Debian's pocketsphinx-en-us lays it out.
    public static func pocketsphinxFiles(_ folder: String) -> (hmm: String, dict: String, lm: String) {
        (folder + "/en-us", folder + "/cmudict-en-us.dict", folder + "/en-us.lm.bin")
    }

    public static func pocketsphinxModelExists(_ folder: String) -> Bool {
        let files = pocketsphinxFiles(folder)
        return [files.hmm + "/mdef", files.dict, files.lm].allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }

    /// The command's program: a path, or a name found on PATH.
    static func resolve(_ program: String, path: String?) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for folder in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    init(environment: [String: String]) throws(ConfigurationError) {
        let command = environment.setting("MW_ASR_COMMAND")?.split(whereSeparator: \.isWhitespace).map(String.init) ?? []
        let model = environment.setting("MW_ASR_MODEL")
        let sphinx = environment.setting("MW_ASR_POCKETSPHINX_MODEL") ?? Self.defaultPocketsphinxModel
        // Unset: Whisper when a command is given, else the in-process fallback when its model is installed.
        let asked = environment.setting("MW_ASR_ENGINE")?.lowercased() ?? (command.isEmpty ? nil : "whisper")
        switch asked {
        case "off":
            engine = nil
        case "whisper":
            guard let program = command.first else {
                throw ConfigurationError(variable: "MW_ASR_COMMAND", reason: "MW_ASR_ENGINE=whisper needs the program to run, e.g. \".venv/bin/python scripts/asr/whisper_asr.py\"")
            }
            guard let resolved = Self.resolve(program, path: environment["PATH"]) else {
                throw ConfigurationError(variable: "MW_ASR_COMMAND", reason: "'\(program)' is not an executable file (or not on PATH)")
            }
            if let model, model.hasPrefix("/"), !FileManager.default.fileExists(atPath: model) {
                throw ConfigurationError(variable: "MW_ASR_MODEL", reason: "\(model) does not exist")
            }
            engine = .whisper(command: [resolved] + command.dropFirst(), model: model)
        case "pocketsphinx":
            guard mw_speech_recognition_available() != 0 else {
                throw ConfigurationError(variable: "MW_ASR_ENGINE", reason: "this FFmpeg's libavfilter has no asr filter (built without pocketsphinx)")
            }
            guard Self.pocketsphinxModelExists(sphinx) else {
                throw ConfigurationError(variable: "MW_ASR_POCKETSPHINX_MODEL",
                                         reason: "no pocketsphinx model in \(sphinx) (en-us/, cmudict-en-us.dict, en-us.lm.bin): install Debian's pocketsphinx-en-us")
            }
            engine = .pocketsphinx(model: sphinx)
        case nil:
            engine = Self.pocketsphinxModelExists(sphinx) && mw_speech_recognition_available() != 0 ? .pocketsphinx(model: sphinx) : nil
        default:
            throw ConfigurationError(variable: "MW_ASR_ENGINE", reason: "expected whisper, pocketsphinx or off, got '\(asked ?? "")'")
        }
        if let text = environment.setting("MW_ASR_TIMEOUT_FACTOR") {
            guard let factor = Double(text), factor > 0, factor <= 100 else {
                throw ConfigurationError(variable: "MW_ASR_TIMEOUT_FACTOR", reason: "expected seconds of work per second of audio, above 0 and at most 100")
            }
            timeoutPerSecond = factor
        }
    }
}
