/// A storage operation's failure: a stable code (as in events and logs), the S3 error code when
/// the peer gave one, and a message that never carries credentials, signatures or presigned URLs.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        case invalidURL = "STORAGE_INVALID_URL"
        case outsideRoot = "STORAGE_OUTSIDE_ROOT"
        case bucketNotAllowed = "STORAGE_BUCKET_NOT_ALLOWED"
        case notConfigured = "STORAGE_NOT_CONFIGURED"
        case notFound = "STORAGE_NOT_FOUND"
        case accessDenied = "STORAGE_ACCESS_DENIED"
        case tooLarge = "STORAGE_TOO_LARGE"
        case unavailable = "STORAGE_UNAVAILABLE"
        case requestFailed = "STORAGE_REQUEST_FAILED"
        case io = "STORAGE_IO"
        case canceled = "STORAGE_CANCELED"
        /// No credentials could be had from the configured source (an expired token file, STS
        /// refusing, the metadata service unreachable): transient, so the worker stops taking jobs.
        case credentialsUnavailable = "STORAGE_CREDENTIALS_UNAVAILABLE"

        /// Worth another attempt later: the peer was down, slow or throttling, the disk failed, or
        /// credentials could not be had.
        public var isTransient: Bool { self == .unavailable || self == .io || self == .credentialsUnavailable }
    }

    public var code: Code
    /// S3's own code (`NoSuchKey`, `AccessDenied`, `SlowDown`, ...), when it sent one.
    public var s3Code: String?
    public var message: String

    public init(code: Code, s3Code: String? = nil, message: String) {
        self.code = code
        self.s3Code = s3Code
        self.message = message
    }

    public var description: String { "\(code.rawValue)\(s3Code.map { " (\($0))" } ?? ""): \(message)" }
}
