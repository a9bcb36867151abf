import Foundation

/// Where and how to reach an S3-compatible service.
public struct S3Configuration: Sendable {
    /// Where the signing keys come from (`CredentialChain`): static or refreshed temporary ones.
    public var credentialProvider: any AWSCredentialProvider
    public var region: String
    /// e.g. http://127.0.0.1:9000 (MinIO); nil: AWS's regional endpoint.
    public var endpoint: URL
    /// Path-style (`host/bucket/key`, MinIO's default) or virtual-hosted (`bucket.host/key`).
    public var pathStyle: Bool
    /// Buckets jobs may name; others are refused before any request.
    public var allowedBuckets: Set<String>
    public var connectTimeout: Duration = .seconds(5)
    public var readTimeout: Duration = .seconds(60)
    /// Objects up to this size go in one PUT; larger ones as multipart.
    public var multipartThreshold: Int = 16 << 20
    /// At least 5 MiB (S3's minimum for every part but the last).
    public var partSize: Int = 8 << 20
    public var partConcurrency: Int = 4
    /// Attempts for a request that fails with 5xx, throttling, a timeout or a dropped connection.
    public var maxAttempts: Int = 4
    public var retryBase: Duration = .milliseconds(200)
    /// Server-side encryption of every object written (`MW_S3_SSE`); nil: the bucket's default.
    public var serverSideEncryption: ServerSideEncryption?

    public init(credentials: SigV4Signer.Credentials, region: String, endpoint: URL, pathStyle: Bool = true,
                allowedBuckets: Set<String>) {
        self.init(credentialProvider: StaticCredentials(credentials, source: "static keys"), region: region, endpoint: endpoint,
                  pathStyle: pathStyle, allowedBuckets: allowedBuckets)
    }

    public init(credentialProvider: any AWSCredentialProvider, region: String, endpoint: URL, pathStyle: Bool = true,
                allowedBuckets: Set<String>) {
        self.credentialProvider = credentialProvider
        self.region = region
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.allowedBuckets = allowedBuckets
    }

    /// From the standard AWS variables and the default credential chain; nil when no source of
    /// credentials is set up (instance metadata counts only when buckets are configured).
    public init?(settings: AWSSettings, allowedBuckets: Set<String>, pathStyle: Bool = true) throws(StorageError) {
        guard let (provider, region) = try CredentialChain.resolve(settings, useInstanceMetadata: !allowedBuckets.isEmpty) else { return nil }
        let endpointText = settings.endpointURL ?? "https://s3.\(region).amazonaws.com"
        guard let url = URL(string: endpointText), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw StorageError(code: .notConfigured, message: "AWS_ENDPOINT_URL is not an http(s) URL")
        }
        self.init(credentialProvider: provider, region: region, endpoint: url, pathStyle: pathStyle, allowedBuckets: allowedBuckets)
    }
}
