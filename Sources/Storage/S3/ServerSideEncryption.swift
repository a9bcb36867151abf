/// How S3 encrypts the objects the worker writes (server-side, at rest), asked for on every
/// single PUT and on every multipart upload's creation (its parts inherit it; S3 refuses the
/// headers on the parts themselves).
public enum ServerSideEncryption: Sendable, Equatable {
    /// SSE-S3: keys S3 manages (`AES256`).
    case s3
    /// SSE-KMS: a KMS key (the account's default `aws/s3` key when nil), optionally with an
    /// S3 Bucket Key (fewer KMS calls).
    case kms(keyID: String?, bucketKey: Bool)

    /// A setting that does not make sense, with the variable at fault.
    public struct Invalid: Error, Sendable {
        public let variable: String
        public let reason: String

        init(_ variable: String, _ reason: String) {
            self.variable = variable
            self.reason = reason
        }
    }

    /// `MW_S3_SSE` (`AES256` or `aws:kms`, unset: none), `MW_S3_SSE_KMS_KEY_ID` and
    /// `MW_S3_SSE_BUCKET_KEY` (`1`/`true`).
    public static func parse(mode: String?, kmsKeyID: String?, bucketKey: String?) -> Result<ServerSideEncryption?, Invalid> {
        let bucketKeyOn: Bool
        switch bucketKey?.lowercased() {
        case nil, "0", "false", "no": bucketKeyOn = false
        case "1", "true", "yes": bucketKeyOn = true
        default: return .failure(Invalid("MW_S3_SSE_BUCKET_KEY", "expected 1 or 0, got '\(bucketKey ?? "")'"))
        }
        switch mode {
        case nil:
            if kmsKeyID != nil { return .failure(Invalid("MW_S3_SSE_KMS_KEY_ID", "needs MW_S3_SSE=aws:kms")) }
            if bucketKeyOn { return .failure(Invalid("MW_S3_SSE_BUCKET_KEY", "needs MW_S3_SSE=aws:kms")) }
            return .success(nil)
        case "AES256":
            if kmsKeyID != nil { return .failure(Invalid("MW_S3_SSE_KMS_KEY_ID", "needs MW_S3_SSE=aws:kms, not AES256")) }
            if bucketKeyOn { return .failure(Invalid("MW_S3_SSE_BUCKET_KEY", "needs MW_S3_SSE=aws:kms, not AES256")) }
            return .success(.s3)
        case "aws:kms":
            if let kmsKeyID, kmsKeyID.count > 2048 || kmsKeyID.contains(where: { $0.isWhitespace || $0.isNewline }) {
                return .failure(Invalid("MW_S3_SSE_KMS_KEY_ID", "not a KMS key id, ARN or alias"))
            }
            return .success(.kms(keyID: kmsKeyID, bucketKey: bucketKeyOn))
        default:
            return .failure(Invalid("MW_S3_SSE", "expected AES256 or aws:kms, got '\(mode ?? "")'"))
        }
    }

    /// The request headers that ask for it.
    var headers: [(String, String)] {
        switch self {
        case .s3:
            return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let keyID, let bucketKey):
            var headers = [("x-amz-server-side-encryption", "aws:kms")]
            if let keyID { headers.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID)) }
            if bucketKey { headers.append(("x-amz-server-side-encryption-bucket-key-enabled", "true")) }
            return headers
        }
    }
}
