import Foundation

/// A failed attempt, with the code that appears in events and logs.
public struct JobFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// Worth another attempt (I/O, storage 5xx, timeouts) or not (invalid job, bad media).
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidJob(_ message: String) -> JobFailure {
        JobFailure(code: "JOB_INVALID", message: message, retryable: false)
    }
}
