import Foundation

/// The AWS default credential chain, in the SDKs' order: the first source that is set up gives
/// the credentials (a source that is set up but fails is an error naming it, not a fall-through):
/// 1. the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), EKS IRSA;
/// 3. the shared files' profile (`AWS_PROFILE`, default `default`): static keys, `role_arn`
///    with `source_profile` (STS AssumeRole), or `credential_process`;
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
            return (try fromProfile(settings.profile, profile, files: files, sts: sts), region)
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
                            depth: Int = 0) throws(StorageError) -> any AWSCredentialProvider {
        let source = "profile \(name)"
        if let role = profile["role_arn"] {
            guard let sourceName = profile["source_profile"] else {
                throw StorageError.credentials(source, "role_arn needs source_profile (credential_source is not supported)")
            }
            guard depth < 4, let sourceProfile = files.profile(sourceName) else {
                throw StorageError.credentials(source, "source_profile \(sourceName) is missing or loops")
            }
            // A source profile that is the same profile holds the keys to assume with.
            let base: any AWSCredentialProvider = sourceName == name
                ? try staticKeys(sourceName, sourceProfile)
                : try fromProfile(sourceName, sourceProfile, files: files, sts: sts, depth: depth + 1)
            let session = profile["role_session_name"] ?? "media-worker-\(getpid())"
            let external = profile["external_id"]
            return RefreshingCredentials(source: "\(source) (assume role \(role))") { () throws(StorageError) -> TemporaryCredentials in
                try await sts.assumeRole(roleARN: role, sessionName: session, externalID: external,
                                         signedWith: try await base.credentials(), source: "\(source) (assume role \(role))")
            }
        }
        if profile["aws_access_key_id"] != nil { return try staticKeys(name, profile) }
        if let command = profile["credential_process"] { return CredentialProcess.provider(command: command, profile: name) }
        throw StorageError.credentials(source, "has no keys, role_arn or credential_process")
    }

    static func staticKeys(_ name: String, _ profile: [String: String]) throws(StorageError) -> StaticCredentials {
        guard let key = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"], !key.isEmpty, !secret.isEmpty else {
            throw StorageError.credentials("profile \(name)", "aws_access_key_id without aws_secret_access_key")
        }
        return StaticCredentials(.init(accessKeyID: key, secretAccessKey: secret, sessionToken: profile["aws_session_token"]),
                                 source: "profile \(name)")
    }
}
