/// The worker's storage: `file://` locations go to the local roots, `s3://` ones to S3 (when
/// configured, and only for its allowed buckets).
public struct StorageRouter: Storage {
    public let local: LocalStorage
    public let s3: S3Storage?

    public init(local: LocalStorage, s3: S3Storage?) {
        self.local = local
        self.s3 = s3
    }

    /// Whether this worker may write under `location` at all (a local root contains it; an S3
    /// bucket is configured and allowed), without touching the storage: for start-up checks of
    /// where the configuration sends things.
    public func checkWritable(_ location: StorageLocation) throws(StorageError) {
        switch location {
        case .file:
            _ = try local.confined(location, forWriting: true)
        case .s3(let bucket, _):
            guard let s3 = try backend(location) as? S3Storage else { return }
            try s3.checkBucket(bucket)
        }
    }

    func backend(_ location: StorageLocation) throws(StorageError) -> any Storage {
        switch location {
        case .file: return local
        case .s3:
            guard let s3 else {
                throw StorageError(code: .notConfigured, message: "s3:// needs AWS credentials (the environment, web identity, a profile, container credentials, or instance metadata with MW_S3_BUCKETS)")
            }
            return s3
        }
    }

    public func head(_ location: StorageLocation) async throws(StorageError) -> ObjectInfo {
        try await backend(location).head(location)
    }

    public func download(_ location: StorageLocation, to path: String, maxBytes: Int64?) async throws(StorageError) -> ObjectInfo {
        try await backend(location).download(location, to: path, maxBytes: maxBytes)
    }

    public func upload(file path: String, to location: StorageLocation, contentType: String?, cacheControl: String?,
                       metadata: [String: String]) async throws(StorageError) {
        try await backend(location).upload(file: path, to: location, contentType: contentType, cacheControl: cacheControl, metadata: metadata)
    }

    public func delete(_ locations: [StorageLocation]) async throws(StorageError) {
        // One call per backend keeps S3's deletes batched.
        let files = locations.filter { if case .file = $0 { return true } else { return false } }
        let objects = locations.filter { if case .s3 = $0 { return true } else { return false } }
        if !files.isEmpty { try await local.delete(files) }
        if let first = objects.first { try await backend(first).delete(objects) }
    }

    public func list(prefix: StorageLocation) async throws(StorageError) -> [ListedObject] {
        try await backend(prefix).list(prefix: prefix)
    }

    public func shutdown() async {
        await s3?.shutdown()
    }
}
