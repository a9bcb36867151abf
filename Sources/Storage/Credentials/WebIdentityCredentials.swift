import Foundation

/// EKS IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`), traded
/// with STS `AssumeRoleWithWebIdentity`. The token file is read again at every refresh (the
/// kubelet rotates it).
enum WebIdentityCredentials {
    static func provider(tokenFile: String, roleARN: String, sessionName: String?, sts: STSClient) -> RefreshingCredentials {
        let source = "web identity (\(roleARN))"
        return RefreshingCredentials(source: source) { () throws(StorageError) -> TemporaryCredentials in
            guard let data = FileManager.default.contents(atPath: tokenFile),
                  let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                throw StorageError.credentials(source, "the token file \(tokenFile) is missing or empty")
            }
            return try await sts.assumeRoleWithWebIdentity(roleARN: roleARN, sessionName: sessionName ?? "media-worker-\(getpid())",
                                                           token: token, source: source)
        }
    }
}
