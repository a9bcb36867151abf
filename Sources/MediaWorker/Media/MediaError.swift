import CFFmpegShim

/// A media operation's failure: a stable code (as in events and logs) and a message for people.
public struct MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        case invalidArgument = "MEDIA_INVALID_ARGUMENT"
        case inputNotFound = "MEDIA_INPUT_NOT_FOUND"
        case inputEmpty = "MEDIA_INPUT_EMPTY"
        case inputUnreadable = "MEDIA_INPUT_UNREADABLE"
        case formatUnrecognized = "MEDIA_FORMAT_UNRECOGNIZED"
        case formatNotAllowed = "MEDIA_FORMAT_NOT_ALLOWED"
        case inputCorrupt = "MEDIA_INPUT_CORRUPT"
        case noStreams = "MEDIA_NO_STREAMS"
        case tooManyStreams = "MEDIA_TOO_MANY_STREAMS"
        case dimensionsTooLarge = "MEDIA_DIMENSIONS_TOO_LARGE"
        case durationTooLong = "MEDIA_DURATION_TOO_LONG"
        case timeout = "MEDIA_TIMEOUT"
        case canceled = "MEDIA_CANCELED"
        case outOfMemory = "MEDIA_OUT_OF_MEMORY"
        case `internal` = "MEDIA_INTERNAL"
        case outputFailed = "MEDIA_OUTPUT_FAILED"
        case encoderFailed = "MEDIA_ENCODER_FAILED"
        case copyNotPossible = "MEDIA_COPY_NOT_POSSIBLE"
        /// The speech recognition engine of automatic captions failed or gave nothing readable.
        case speechRecognitionFailed = "MEDIA_SPEECH_RECOGNITION_FAILED"
        /// The engine's model cannot hear the job's language.
        case speechLanguageUnsupported = "MEDIA_SPEECH_LANGUAGE_UNSUPPORTED"

        /// Corrupt or unsupported media will not get better on a retry; resource trouble may.
        public var isPermanent: Bool {
            switch self {
            case .timeout, .outOfMemory, .internal, .inputUnreadable, .outputFailed, .speechRecognitionFailed: return false
            default: return true
            }
        }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(status: mw_status, message: String) {
        let name = String(cString: mw_status_name(status))
        self.init(code: Code(rawValue: name) ?? .internal, message: message.isEmpty ? name : message)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
