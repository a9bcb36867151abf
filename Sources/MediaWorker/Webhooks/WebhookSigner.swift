import Crypto
import Foundation

/// Signs deliveries the Standard Webhooks way (standardwebhooks.com): the signed content is
/// `<webhook-id>.<webhook-timestamp>.<body>`, HMAC-SHA256 with each secret, sent as
/// `webhook-signature: v1,<base64> v1,<base64>` (several secrets while one is rotated out).
public struct WebhookSigner: Sendable {
    /// The secrets' key bytes (the base64 after `whsec_`).
    let keys: [[UInt8]]

    public enum SecretError: Error, Equatable, CustomStringConvertible {
        case notStandard(String)
        public var description: String {
            switch self {
            case .notStandard(let prefix):
                return "secret '\(prefix)…' is not whsec_<base64 of 24 to 64 bytes>"
            }
        }
    }

    /// `secrets`: space-separated `whsec_…` values (`MW_WEBHOOK_SECRET`).
    public init(secrets: String) throws(SecretError) {
        var keys: [[UInt8]] = []
        for secret in secrets.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), (24...64).contains(key.count) else {
                throw .notStandard(String(secret.prefix(8)))
            }
            keys.append(Array(key))
        }
        self.keys = keys
    }

    /// The three headers of one delivery.
    public func headers(id: String, timestamp: Int64, body: [UInt8]) -> [(String, String)] {
        let content = Array("\(id).\(timestamp).".utf8) + body
        let signatures = keys.map { key in
            "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))).base64EncodedString()
        }
        return [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", signatures.joined(separator: " "))]
    }
}
