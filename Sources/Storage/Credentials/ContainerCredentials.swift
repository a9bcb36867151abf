import Foundation

/// ECS tasks and EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on
/// 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN`
/// or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every refresh) as the Authorization header.
enum ContainerCredentials {
    static let ecsHost = "http://169.254.170.2"

    static func provider(url: String, token: String?, tokenFile: String?) -> RefreshingCredentials {
        let source = "container credentials (\(url))"
        return RefreshingCredentials(source: source) { () throws(StorageError) -> TemporaryCredentials in
            var headers: [(String, String)] = []
            if let tokenFile {
                guard let data = FileManager.default.contents(atPath: tokenFile),
                      let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                    throw StorageError.credentials(source, "the token file \(tokenFile) is missing or empty")
                }
                headers.append(("authorization", text))
            } else if let token {
                headers.append(("authorization", token))
            }
            let answer = try await CredentialHTTP.send(.GET, url, headers: headers, source: source)
            guard answer.status == 200 else { throw StorageError.credentials(source, "the endpoint answered HTTP \(answer.status)") }
            return try JSONCredentials.parse(answer.body, source: source)
        }
    }
}

/// The JSON form the container endpoint, instance metadata and `credential_process` share:
/// `AccessKeyId`, `SecretAccessKey`, `Token` or `SessionToken`, `Expiration`.
enum JSONCredentials {
    static func parse(_ data: Data, source: String) throws(StorageError) -> TemporaryCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let key = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String, !key.isEmpty, !secret.isEmpty else {
            throw StorageError.credentials(source, "the answer holds no AccessKeyId and SecretAccessKey")
        }
        let token = object["Token"] as? String ?? object["SessionToken"] as? String
        let expiration = (object["Expiration"] as? String).flatMap(Date.init(awsTimestamp:))
        return TemporaryCredentials(credentials: .init(accessKeyID: key, secretAccessKey: secret, sessionToken: token), expiration: expiration)
    }
}
