import Foundation

/// The two STS calls a worker makes to become a role: `AssumeRoleWithWebIdentity` (EKS IRSA:
/// a token file, no keys, unsigned) and `AssumeRole` (a profile's `role_arn`, signed with its
/// source profile's keys).
struct STSClient: Sendable {
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional endpoint.
    let endpoint: String
    let region: String

    static let sessionDuration = 3600

    func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, token: String, source: String) async throws(StorageError) -> TemporaryCredentials {
        try await call(["Action": "AssumeRoleWithWebIdentity", "RoleArn": roleARN, "RoleSessionName": sessionName,
                        "WebIdentityToken": token], signedWith: nil, source: source)
    }

    func assumeRole(roleARN: String, sessionName: String, externalID: String?, signedWith credentials: SigV4Signer.Credentials,
                    source: String) async throws(StorageError) -> TemporaryCredentials {
        var form = ["Action": "AssumeRole", "RoleArn": roleARN, "RoleSessionName": sessionName]
        if let externalID { form["ExternalId"] = externalID }
        return try await call(form, signedWith: credentials, source: source)
    }

    private func call(_ form: [String: String], signedWith credentials: SigV4Signer.Credentials?, source: String) async throws(StorageError) -> TemporaryCredentials {
        var fields = form
        fields["Version"] = "2011-06-15"
        fields["DurationSeconds"] = String(Self.sessionDuration)
        let body = Data(SigV4Signer.canonicalQuery(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).utf8)
        guard let url = URL(string: endpoint), let host = url.host else {
            throw StorageError.credentials(source, "the STS endpoint \(endpoint) is not a URL")
        }
        var headers = [("host", host + (url.port.map { ":\($0)" } ?? "")), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")]
        if let credentials {
            headers += SigV4Signer(credentials: credentials, region: region, service: "sts")
                .signedHeaders(method: "POST", path: "/", query: [], headers: headers, payloadHash: SigV4Signer.hexSHA256(body), date: Date())
        }
        let answer = try await CredentialHTTP.send(.POST, endpoint.hasSuffix("/") ? endpoint : endpoint + "/",
                                                   headers: headers.filter { $0.0 != "host" }, body: body, source: source)
        let root = S3XMLElement.parse(answer.body)
        guard (200..<300).contains(answer.status) else {
            let error = root?.child("Error")
            throw StorageError.credentials(source, "STS refused \(form["Action"] ?? ""): \(error?.value("Code") ?? "HTTP \(answer.status)")"
                                           + (error?.value("Message").map { " (\($0))" } ?? ""))
        }
        guard let result = root?.children.first(where: { $0.name.hasSuffix("Result") })?.child("Credentials"),
              let key = result.value("AccessKeyId"), let secret = result.value("SecretAccessKey"), let token = result.value("SessionToken") else {
            throw StorageError.credentials(source, "STS answered without credentials")
        }
        return TemporaryCredentials(credentials: .init(accessKeyID: key, secretAccessKey: secret, sessionToken: token),
                                    expiration: result.value("Expiration").flatMap(Date.init(awsTimestamp:)))
    }
}
