import Foundation

/// EC2 instance metadata, IMDSv2 only: a session token (`PUT /latest/api/token` with a TTL),
/// then the instance profile's role name and its credentials. `AWS_EC2_METADATA_SERVICE_ENDPOINT`
/// moves it (tests, IPv6); `AWS_EC2_METADATA_DISABLED=true` turns it off.
enum InstanceMetadataCredentials {
    static let defaultEndpoint = "http://169.254.169.254"
    static let tokenTTL = 21600

    static func provider(endpoint: String) -> RefreshingCredentials {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        let source = "instance metadata (\(base))"
        return RefreshingCredentials(source: source) { () throws(StorageError) -> TemporaryCredentials in
            let tokenAnswer = try await CredentialHTTP.send(.PUT, base + "/latest/api/token",
                                                            headers: [("x-aws-ec2-metadata-token-ttl-seconds", String(tokenTTL))], source: source)
            guard tokenAnswer.status == 200, let token = String(data: tokenAnswer.body, encoding: .utf8), !token.isEmpty else {
                throw StorageError.credentials(source, "no IMDSv2 token (HTTP \(tokenAnswer.status))")
            }
            let headers = [("x-aws-ec2-metadata-token", token)]
            let path = base + "/latest/meta-data/iam/security-credentials/"
            let roles = try await CredentialHTTP.send(.GET, path, headers: headers, source: source)
            guard roles.status == 200, let role = String(data: roles.body, encoding: .utf8)?.split(whereSeparator: \.isNewline).first,
                  !role.contains("/"), !role.contains("..") else {
                throw StorageError.credentials(source, "no instance profile role (HTTP \(roles.status))")
            }
            let answer = try await CredentialHTTP.send(.GET, path + role, headers: headers, source: source)
            guard answer.status == 200 else { throw StorageError.credentials(source, "the role's credentials: HTTP \(answer.status)") }
            return try JSONCredentials.parse(answer.body, source: source)
        }
    }
}
