/// The HTTP headers every output is written with, by kind: what CDNs and players read.
/// Versioned objects never change (a new publication is a new version), so segments and images
/// may be cached for good; playlists and manifests get a short life anyway, and the stable names,
/// rewritten at each publication, must be asked for again. All configurable.
public struct ObjectHeaders: Sendable, Equatable {
    /// `MW_CACHE_CONTROL_IMMUTABLE`: segments, init segments, images, captions of a version.
    public var immutableCacheControl = "public, max-age=31536000, immutable"
    /// `MW_CACHE_CONTROL_MANIFESTS`: playlists (`.m3u8`) and manifests (`.mpd`) of a version.
    public var manifestCacheControl = "public, max-age=60"
    /// `MW_CACHE_CONTROL_STABLE`: the stable names (the master playlist outside the versions).
    public var stableCacheControl = "no-cache"
    /// Content types by lowercased file extension; `MW_CONTENT_TYPES` adds or replaces entries.
    public var contentTypes = ObjectHeaders.defaultContentTypes

    public static let defaultContentTypes: [String: String] = [
        "m3u8": "application/vnd.apple.mpegurl", "mpd": "application/dash+xml",
        "m4s": "video/iso.segment", "mp4": "video/mp4", "ts": "video/mp2t", "m4a": "audio/mp4", "aac": "audio/aac",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
        "vtt": "text/vtt", "json": "application/json", "wav": "audio/wav",
    ]

    public init() {}

    public func contentType(of path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        return contentTypes[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }

    /// A versioned object's Cache-Control: manifests short-lived, the rest immutable.
    public func cacheControl(of path: String) -> String {
        path.hasSuffix(".m3u8") || path.hasSuffix(".mpd") ? manifestCacheControl : immutableCacheControl
    }

    /// `MW_CONTENT_TYPES`: `ext=type` pairs, comma-separated (`m4s=video/mp4,srt=application/x-subrip`).
    static func parseContentTypes(_ text: String) throws(ConfigurationError) -> [String: String] {
        var types: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let ext = parts.first.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }?.lowercased() ?? ""
            guard parts.count == 2, !ext.isEmpty, ext.allSatisfy({ $0.isLetter || $0.isNumber }), Self.isHeaderValue(parts[1]),
                  parts[1].contains("/") else {
                throw ConfigurationError(variable: "MW_CONTENT_TYPES", reason: "expected ext=type pairs, got '\(pair)'")
            }
            types[ext] = parts[1]
        }
        return types
    }

    /// Printable ASCII without control characters: what a header value may be.
    static func isHeaderValue(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 1024 && text.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
    }
}
