import Storage

/// A small object written under a stable name at publication.
public struct StableObject: Sendable, Equatable {
    public var location: StorageLocation
    public var contents: String
    public var contentType: String

    public init(location: StorageLocation, contents: String, contentType: String) {
        self.location = location
        self.contents = contents
        self.contentType = contentType
    }
}
