/// Why an inbox item is not a valid job. The code is stable (events, logs, `dead list`).
public struct JobRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case tooLarge = "JOB_TOO_LARGE"
        case invalidUTF8 = "JOB_INVALID_UTF8"
        case tooDeep = "JOB_TOO_DEEP"
        case invalidJSON = "JOB_INVALID_JSON"
        case notAnObject = "JOB_NOT_AN_OBJECT"
        case unknownType = "JOB_UNKNOWN_TYPE"
        case invalidField = "JOB_INVALID_FIELD"
        case missingField = "JOB_MISSING_FIELD"
        case invalidURL = "JOB_INVALID_URL"
        case invalidNotification = "JOB_INVALID_NOTIFICATION"
    }

    public var code: Code
    public var message: String
    /// The job's id and type when they could be read, so the dead job is findable.
    public var id: String?
    public var type: String?

    public init(_ code: Code, _ message: String, id: String? = nil, type: String? = nil) {
        self.code = code
        self.message = message
        self.id = id
        self.type = type
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
