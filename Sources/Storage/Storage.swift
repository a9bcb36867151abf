/// What HEAD tells about an object.
public struct ObjectInfo: Sendable, Equatable {
    public var size: Int64
    /// User metadata (`x-amz-meta-*`), names lower-cased without the prefix.
    public var metadata: [String: String]
    public var contentType: String?
    public var etag: String?

    public init(size: Int64, metadata: [String: String] = [:], contentType: String? = nil, etag: String? = nil) {
        self.size = size
        self.metadata = metadata
        self.contentType = contentType
        self.etag = etag
    }
}

/// One object of a listing.
public struct ListedObject: Sendable, Equatable {
    public var location: StorageLocation
    public var size: Int64
}

/// An object store: a local directory or an S3-compatible service.
public protocol Storage: Sendable {
    func head(_ location: StorageLocation) async throws(StorageError) -> ObjectInfo
    /// Streams the object into `path` (written beside it, renamed when complete) with constant
    /// memory; refuses objects over `maxBytes` before reading any of them.
    func download(_ location: StorageLocation, to path: String, maxBytes: Int64?) async throws(StorageError) -> ObjectInfo
    /// Writes the file as the object, whole or not at all. `cacheControl` tells caches (a CDN)
    /// how long they may keep it: versioned outputs never change, stable names do.
    func upload(file path: String, to location: StorageLocation, contentType: String?, cacheControl: String?,
                metadata: [String: String]) async throws(StorageError)
    /// Deletes the objects; missing ones are not an error.
    func delete(_ locations: [StorageLocation]) async throws(StorageError)
    /// Every object whose location starts with `prefix`.
    func list(prefix: StorageLocation) async throws(StorageError) -> [ListedObject]
}

extension Storage {
    public func upload(file path: String, to location: StorageLocation, contentType: String?, metadata: [String: String]) async throws(StorageError) {
        try await upload(file: path, to: location, contentType: contentType, cacheControl: nil, metadata: metadata)
    }
}
