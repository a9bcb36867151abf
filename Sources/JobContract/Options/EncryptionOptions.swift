/// `options.encryption` of a transcode: HLS segments encrypted whole with AES-128 (RFC 8216
/// section 5.2), a new random key per asset and, with `rotate_every_segments` N, per N segments.
/// The key server players ask is the worker's `MW_HLS_KEY_URL`; keys go to `MW_HLS_KEY_STORE` or,
/// without one, into the event (docs/media.md, "Encryption").
public struct EncryptionOptions: Decodable, Sendable, Equatable {
    public enum Method: String, Decodable, Sendable { case aes128 = "aes-128" }

    public var method: Method = .aes128
    /// Segments per key (the same periods in every rendition); 0: one key for the whole asset.
    public var rotateEverySegments = 0

    public init(method: Method = .aes128, rotateEverySegments: Int = 0) {
        self.method = method
        self.rotateEverySegments = rotateEverySegments
    }

    enum CodingKeys: String, CodingKey { case method, rotateEverySegments = "rotate_every_segments" }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        method = try fields.decode(Method.self, forKey: .method)
        rotateEverySegments = try fields.decodeIfPresent(Int.self, forKey: .rotateEverySegments) ?? 0
    }
}
