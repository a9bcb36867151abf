/// Where an object lives: a path under a local root (`file:///...`) or a key in a bucket
/// (`s3://bucket/key`). Parsing checks the form; confinement is the backend's job.
public enum StorageLocation: Sendable, Hashable, CustomStringConvertible {
    case file(path: String)
    case s3(bucket: String, key: String)

    public init(parsing text: String) throws(StorageError) {
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            let key = rest.dropFirst(bucket.count).drop { $0 == "/" }
            guard Self.isValidBucket(bucket) else {
                throw StorageError(code: .invalidURL, message: "not a valid bucket name in \(text)")
            }
            guard key.utf8.count <= 1024, !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw StorageError(code: .invalidURL, message: "keys are at most 1024 bytes without control characters")
            }
            self = .s3(bucket: bucket, key: String(key))
        } else if text.hasPrefix("file://") {
            let path = String(text.dropFirst(7))
            guard path.hasPrefix("/"), !path.contains("\0") else {
                throw StorageError(code: .invalidURL, message: "file URLs need an absolute path: file:///...")
            }
            self = .file(path: path)
        } else {
            throw StorageError(code: .invalidURL, message: "expected s3://bucket/key or file:///path")
        }
    }

    /// S3's rules: 3-63 lower-case letters, digits, '.', '-', starting and ending alphanumeric.
    public static func isValidBucket(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        return alnum(bytes.first!) && alnum(bytes.last!) && bytes.allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x2D }
    }

    /// A location under this one treated as a folder ("out/" + "hls/master.m3u8").
    public func appending(_ relative: String) -> StorageLocation {
        switch self {
        case .file(let path): return .file(path: path.hasSuffix("/") ? path + relative : path + "/" + relative)
        case .s3(let bucket, let key):
            return .s3(bucket: bucket, key: key.isEmpty || key.hasSuffix("/") ? key + relative : key + "/" + relative)
        }
    }

    /// The object's name: the last path component.
    public var name: String {
        switch self {
        case .file(let path): return String(path.split(separator: "/").last ?? "")
        case .s3(_, let key): return String(key.split(separator: "/").last ?? "")
        }
    }

    public var description: String {
        switch self {
        case .file(let path): return "file://" + path
        case .s3(let bucket, let key): return "s3://\(bucket)/\(key)"
        }
    }
}
