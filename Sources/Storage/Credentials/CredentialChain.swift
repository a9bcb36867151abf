import Foundation

/// The AWS default credential chain, in the SDKs' order: the first source that is set up gives
/// the credentials (a source that is set up but fails is an error naming it, not a fall-through):
/// 1. the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), EKS IRSA;
/// 3. the shared files' profile (`AWS_PROFILE`, default `default`): static keys, `role_arn`
///    with `source_profile` or `credential_source` (STS AssumeRole), `role_arn` with
///    `web_identity_token_file`, or `credential_process` (SSO profiles are refused, named);
/// 4. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`), ECS and
///    EKS Pod Identity;
/// 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`; tried only when
///    S3 buckets are configured, so a machine without AWS never waits on it.
public enum CredentialChain {
    /// The provider and the region to use; nil when no source is set up (and IMDS is not wanted).
    public static func resolve(_ settings: AWSSettings, useInstanceMetadata: Bool) throws(StorageError) -> (provider: any AWSCredentialProvider, region: String)? {
        let files = SharedConfigFiles(credentialsFile: settings.sharedCredentialsFile, configFile: settings.configFile)
        let profile = files.profile(settings.profile)
        let region = settings.region
        let sts = STSClient(endpoint: settings.stsEndpointURL ?? "https://sts.\(region).amazonaws.com", region: region)

        if let key = settings.accessKeyID, let secret = settings.secretAccessKey {
            return (StaticCredentials(.init(accessKeyID: key, secretAccessKey: secret, sessionToken: settings.sessionToken), source: "environment"), region)
        }
        if let tokenFile = settings.webIdentityTokenFile, let role = settings.roleARN {
            return (WebIdentityCredentials.provider(tokenFile: tokenFile, roleARN: role, sessionName: settings.roleSessionName, sts: sts), region)
        }
        if let profile {
            return (try fromProfile(settings.profile, profile, files: files, sts: sts, settings: settings), region)
        }
        if settings.profileWasNamed {
            throw StorageError.credentials("profile \(settings.profile)", "not in \(settings.sharedCredentialsFile) or \(settings.configFile)")
        }
        if let relative = settings.containerRelativeURI {
            return (ContainerCredentials.provider(url: ContainerCredentials.ecsHost + relative, token: settings.containerToken,
                                                  tokenFile: settings.containerTokenFile), region)
        }
        if let full = settings.containerFullURI {
            return (ContainerCredentials.provider(url: full, token: settings.containerToken, tokenFile: settings.containerTokenFile), region)
        }
        if useInstanceMetadata && !settings.instanceMetadataDisabled {
            return (InstanceMetadataCredentials.provider(endpoint: settings.instanceMetadataEndpoint ?? InstanceMetadataCredentials.defaultEndpoint), region)
        }
        return nil
    }

    static func fromProfile(_ name: String, _ profile: [String: String], files: SharedConfigFiles, sts: STSClient,
                            settings: AWSSettings, depth: Int = 0) throws(StorageError) -> any AWSCredentialProvider {
        let source = "profile \(name)"
        if let role = profile["role_arn"] {
            let session = profile["role_session_name"] ?? "media-worker-\(getpid())"
            if let tokenFile = profile["web_identity_token_file"] {
                return WebIdentityCredentials.provider(tokenFile: tokenFile, roleARN: role, sessionName: session, sts: sts)
            }
            let base: any AWSCredentialProvider
            switch (profile["source_profile"], profile["credential_source"]) {
            case (.some, .some):
                throw StorageError.credentials(source, "give source_profile or credential_source, not both")
            case (.some(let sourceName), nil):
                guard depth < 4, let sourceProfile = files.profile(sourceName) else {
                    throw StorageError.credentials(source, "source_profile \(sourceName) is missing or loops")
                }
                // A source profile that is the same profile holds the keys to assume with.
                base = sourceName == name
                    ? try staticKeys(sourceName, sourceProfile)
                    : try fromProfile(sourceName, sourceProfile, files: files, sts: sts, settings: settings, depth: depth + 1)
            case (nil, .some(let named)):
                base = try credentialSource(named, profile: name, settings: settings)
            case (nil, nil):
                throw StorageError.credentials(source, "role_arn needs source_profile, credential_source or web_identity_token_file")
            }
            let external = profile["external_id"]
            return RefreshingCredentials(source: "\(source) (assume role \(role))") { () throws(StorageError) -> TemporaryCredentials in
                try await sts.assumeRole(roleARN: role, sessionName: session, externalID: external,
                                         signedWith: try await base.credentials(), source: "\(source) (assume role \(role))")
            }
        }
        if profile["aws_access_key_id"] != nil { return try staticKeys(name, profile) }
        if let command = profile["credential_process"] { return CredentialProcess.provider(command: command, profile: name) }
        if profile["sso_session"] != nil || profile["sso_start_url"] != nil {
            throw StorageError.credentials(source, "IAM Identity Center (SSO) profiles are not supported; use credential_process = "
                                           + "aws configure export-credentials --profile \(name) --format process")
        }
        throw StorageError.credentials(source, "has no keys, role_arn or credential_process")
    }

    /// `credential_source` of a role profile: where the keys that assume the role come from.
    static func credentialSource(_ named: String, profile: String, settings: AWSSettings) throws(StorageError) -> any AWSCredentialProvider {
        switch named {
        case "Environment":
            guard let key = settings.accessKeyID, let secret = settings.secretAccessKey else {
                throw StorageError.credentials("profile \(profile)", "credential_source Environment, but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")
            }
            return StaticCredentials(.init(accessKeyID: key, secretAccessKey: secret, sessionToken: settings.sessionToken), source: "environment")
        case "Ec2InstanceMetadata":
            return InstanceMetadataCredentials.provider(endpoint: settings.instanceMetadataEndpoint ?? InstanceMetadataCredentials.defaultEndpoint)
        case "EcsContainer":
            if let relative = settings.containerRelativeURI {
                return ContainerCredentials.provider(url: ContainerCredentials.ecsHost + relative, token: settings.containerToken,
                                                     tokenFile: settings.containerTokenFile)
            }
            if let full = settings.containerFullURI {
                return ContainerCredentials.provider(url: full, token: settings.containerToken, tokenFile: settings.containerTokenFile)
            }
            throw StorageError.credentials("profile \(profile)", "credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_*_URI is set")
        default:
            throw StorageError.credentials("profile \(profile)", "credential_source \(named) is not one of Environment, Ec2InstanceMetadata, EcsContainer")
        }
    }

    static func staticKeys(_ name: String, _ profile: [String: String]) throws(StorageError) -> StaticCredentials {
        guard let key = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"], !key.isEmpty, !secret.isEmpty else {
            throw StorageError.credentials("profile \(name)", "aws_access_key_id without aws_secret_access_key")
        }
        return StaticCredentials(.init(accessKeyID: key, secretAccessKey: secret, sessionToken: profile["aws_session_token"]),
                                 source: "profile \(name)")
    }
}
