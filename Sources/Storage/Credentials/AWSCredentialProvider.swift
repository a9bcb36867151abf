import Foundation

/// Where the S3 client gets the keys it signs with: static keys, or temporary ones (a role's)
/// that a provider fetches and refreshes ahead of their expiry.
public protocol AWSCredentialProvider: Sendable {
    /// The credentials to sign the next request with.
    func credentials() async throws(StorageError) -> SigV4Signer.Credentials
    /// Which source gave them (for `media-worker storage whoami` and error messages); never a secret.
    var source: String { get }
}

/// Keys and, for temporary ones, when they stop working.
public struct TemporaryCredentials: Sendable, Equatable {
    public var credentials: SigV4Signer.Credentials
    /// nil: they do not expire.
    public var expiration: Date?

    public init(credentials: SigV4Signer.Credentials, expiration: Date?) {
        self.credentials = credentials
        self.expiration = expiration
    }
}

/// Keys that never change: the environment's, a profile's, a test's.
public struct StaticCredentials: AWSCredentialProvider {
    let value: SigV4Signer.Credentials
    public let source: String

    public init(_ credentials: SigV4Signer.Credentials, source: String) {
        self.value = credentials
        self.source = source
    }

    public func credentials() async throws(StorageError) -> SigV4Signer.Credentials { value }
}

extension StorageError {
    /// Credentials could not be had from `source`: the worker reports not ready rather than
    /// failing jobs one by one.
    static func credentials(_ source: String, _ why: String) -> StorageError {
        StorageError(code: .credentialsUnavailable, message: "\(source): \(why)")
    }
}
