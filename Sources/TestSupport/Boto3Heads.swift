import Foundation

/// Objects' headers as boto3 reads them back (`scripts/test/s3_head.py`): one dictionary per
/// key with ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled, CacheControl, ContentType and
/// ContentLength (NSNull when absent).
public func headObjectsWithBoto3(endpoint: String, bucket: String, keys: [String], environment: [String: String]) async throws -> [[String: Any]] {
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    let result = try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent("test/s3_head.py").path, endpoint, bucket] + keys,
                                             environment: environment)
    guard result.succeeded else { throw TestEnvironmentError.serverFailed(name: "s3_head.py", detail: result.stderr) }
    return result.stdout.split(whereSeparator: \.isNewline).compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}
