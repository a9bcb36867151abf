/// The standard AWS variables, as the AWS CLI and SDKs read them.
public struct AWSSettings: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    public var region: String
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`: MinIO or another S3-compatible peer.
    public var endpointURL: String?

    public init(environment: [String: String]) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        accessKeyID = value("AWS_ACCESS_KEY_ID")
        secretAccessKey = value("AWS_SECRET_ACCESS_KEY")
        sessionToken = value("AWS_SESSION_TOKEN")
        region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        endpointURL = value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
    }

    /// Never prints the secret or the session token.
    public var description: String {
        "AWSSettings(accessKeyID: \(accessKeyID ?? "-"), secret: \(secretAccessKey == nil ? "unset" : "set"), "
            + "sessionToken: \(sessionToken == nil ? "unset" : "set"), region: \(region), endpoint: \(endpointURL ?? "default"))"
    }
}
