/// The standard AWS variables, as the AWS CLI and SDKs read them (see `CredentialChain`).
public struct AWSSettings: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`, else us-east-1.
    public var region: String
    /// `AWS_REGION` or `AWS_DEFAULT_REGION` when set.
    public var explicitRegion: String?
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`: MinIO or another S3-compatible peer.
    public var endpointURL: String?
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`.
    public var stsEndpointURL: String?
    public var webIdentityTokenFile: String?
    public var roleARN: String?
    public var roleSessionName: String?
    /// `AWS_PROFILE` (default `default`); `profileWasNamed` when the variable was set.
    public var profile: String
    public var profileWasNamed: Bool
    public var sharedCredentialsFile: String
    public var configFile: String
    public var containerRelativeURI: String?
    public var containerFullURI: String?
    public var containerToken: String?
    public var containerTokenFile: String?
    public var instanceMetadataEndpoint: String?
    public var instanceMetadataDisabled: Bool

    public init(environment: [String: String]) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        accessKeyID = value("AWS_ACCESS_KEY_ID")
        secretAccessKey = value("AWS_SECRET_ACCESS_KEY")
        sessionToken = value("AWS_SESSION_TOKEN")
        explicitRegion = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION")
        endpointURL = value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
        stsEndpointURL = value("AWS_ENDPOINT_URL_STS") ?? value("AWS_ENDPOINT_URL")
        webIdentityTokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE")
        roleARN = value("AWS_ROLE_ARN")
        roleSessionName = value("AWS_ROLE_SESSION_NAME")
        profile = value("AWS_PROFILE") ?? "default"
        profileWasNamed = value("AWS_PROFILE") != nil
        let home = value("HOME") ?? "/root"
        sharedCredentialsFile = value("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
        configFile = value("AWS_CONFIG_FILE") ?? home + "/.aws/config"
        containerRelativeURI = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        containerFullURI = value("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        containerToken = value("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        containerTokenFile = value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        instanceMetadataEndpoint = value("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        instanceMetadataDisabled = value("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true"
        let profileRegion = SharedConfigFiles(credentialsFile: sharedCredentialsFile, configFile: configFile).profile(profile)?["region"]
        region = explicitRegion ?? profileRegion ?? "us-east-1"
    }

    /// Never prints the secret or the session token.
    public var description: String {
        "AWSSettings(accessKeyID: \(accessKeyID ?? "-"), secret: \(secretAccessKey == nil ? "unset" : "set"), "
            + "sessionToken: \(sessionToken == nil ? "unset" : "set"), region: \(region), endpoint: \(endpointURL ?? "default"), "
            + "profile: \(profile), roleARN: \(roleARN ?? "-"))"
    }
}
