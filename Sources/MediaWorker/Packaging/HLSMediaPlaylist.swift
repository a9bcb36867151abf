import Foundation

/// An HLS media playlist (RFC 8216 section 4.3.3) as our packagers write it: video on demand, one
/// tag or URI per line. The one-pass packager's are written by the shim
/// (`CFFmpegShim/package/mw_playlist_writer.c`: it cuts the segments and knows their bytes); the
/// stitched ones of split jobs and the subtitle ones are written here, and a test checks that this
/// writer gives back the shim's text byte for byte. Also the reader of all of them.
public struct HLSMediaPlaylist: Sendable, Equatable {
    public struct ByteRange: Sendable, Equatable {
        public var length: Int64
        public var offset: Int64
    }

    /// `EXT-X-KEY` with METHOD=AES-128: where the player gets the key, and the segment's own IV.
    public struct Key: Sendable, Equatable {
        public var uri: String
        public var iv: [UInt8]

        public init(uri: String, iv: [UInt8]) {
            self.uri = uri
            self.iv = iv
        }

        var line: String {
            "#EXT-X-KEY:METHOD=AES-128,URI=\"\(MasterPlaylist.quoted(uri))\",IV=0x" + iv.map { String(format: "%02x", $0) }.joined()
        }
    }

    public struct Segment: Sendable, Equatable {
        public var uri: String
        public var duration: Double
        /// I-frame playlists: the bytes of the I-frame in the segment.
        public var byteRange: ByteRange?
        /// Encrypted segments: the key and IV it was encrypted with (one EXT-X-KEY before each).
        public var key: Key?

        public init(uri: String, duration: Double, byteRange: ByteRange? = nil, key: Key? = nil) {
            self.uri = uri
            self.duration = duration
            self.byteRange = byteRange
            self.key = key
        }
    }

    public var segments: [Segment]
    /// `EXT-X-MAP`: the init segment of fMP4 renditions (nil for MPEG-TS and WebVTT).
    public var initURI: String?
    public var iFramesOnly: Bool
    /// `EXT-X-INDEPENDENT-SEGMENTS`: every media segment starts with a keyframe (not said of text).
    public var independentSegments: Bool

    public init(segments: [Segment], initURI: String? = nil, iFramesOnly: Bool = false, independentSegments: Bool = true) {
        self.segments = segments
        self.initURI = initURI
        self.iFramesOnly = iFramesOnly
        self.independentSegments = independentSegments
    }

    /// The lowest version the tags allow (RFC 8216 section 7): decimal EXTINF needs 3,
    /// EXT-X-BYTERANGE and EXT-X-I-FRAMES-ONLY 4, EXT-X-MAP in an I-frame playlist 5, else 6.
    public var version: Int {
        if iFramesOnly { return initURI == nil ? 4 : 5 }
        return initURI == nil ? 3 : 6
    }

    /// A duration as EXTINF carries it: to the millisecond, the finest the packagers know it to.
    public static func written(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }

    /// EXT-X-TARGETDURATION: the largest EXTINF as written, rounded to the nearest second (at
    /// least 1), so a reader's rounding agrees with ours.
    public static func targetDuration(_ durations: [Double]) -> Int {
        max(1, durations.map { Int((written($0) + 0.5).rounded(.down)) }.max() ?? 1)
    }

    public var text: String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:\(version)", "#EXT-X-TARGETDURATION:\(Self.targetDuration(segments.map(\.duration)))",
                     "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
        if independentSegments { lines.append("#EXT-X-INDEPENDENT-SEGMENTS") }
        if iFramesOnly { lines.append("#EXT-X-I-FRAMES-ONLY") }
        if let initURI { lines.append("#EXT-X-MAP:URI=\"\(initURI)\"") }
        for segment in segments {
            // The init segment (EXT-X-MAP, above) stays in the clear: no key applies to it yet.
            if let key = segment.key { lines.append(key.line) }
            lines.append(String(format: "#EXTINF:%.3f,", Self.written(segment.duration)))
            if let range = segment.byteRange { lines.append("#EXT-X-BYTERANGE:\(range.length)@\(range.offset)") }
            lines.append(segment.uri)
        }
        lines.append("#EXT-X-ENDLIST")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a playlist of ours (or any simple VOD one): segments with their durations and byte
    /// ranges, the init segment. Tags it does not know are skipped.
    public init(parsing text: String) {
        var segments: [Segment] = []
        var duration: Double?
        var range: ByteRange?
        var initURI: String?
        var iFramesOnly = false
        var independent = false
        var key: Key?
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("#EXT-X-KEY:") {
                key = Self.parseKey(String(line.dropFirst("#EXT-X-KEY:".count)))
            } else if line.hasPrefix("#EXTINF:") {
                duration = Double(line.dropFirst("#EXTINF:".count).prefix { $0 != "," })
            } else if line.hasPrefix("#EXT-X-BYTERANGE:") {
                let parts = line.dropFirst("#EXT-X-BYTERANGE:".count).split(separator: "@")
                if parts.count == 2, let length = Int64(parts[0]), let offset = Int64(parts[1]) { range = ByteRange(length: length, offset: offset) }
            } else if line.hasPrefix("#EXT-X-MAP:URI=\"") {
                initURI = String(line.dropFirst("#EXT-X-MAP:URI=\"".count).prefix { $0 != "\"" })
            } else if line == "#EXT-X-I-FRAMES-ONLY" {
                iFramesOnly = true
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                independent = true
            } else if !line.hasPrefix("#"), let seconds = duration {
                segments.append(Segment(uri: String(line), duration: seconds, byteRange: range, key: key))
                duration = nil
                range = nil
            }
        }
        self.init(segments: segments, initURI: initURI, iFramesOnly: iFramesOnly, independentSegments: independent)
    }

    /// An EXT-X-KEY's attributes: AES-128 with a URI and an IV is a key; METHOD=NONE (or anything
    /// else) is none.
    static func parseKey(_ attributes: String) -> Key? {
        var fields: [String: String] = [:]
        var rest = Substring(attributes)
        while let equals = rest.firstIndex(of: "=") {
            let name = String(rest[..<equals])
            rest = rest[rest.index(after: equals)...]
            let value: Substring
            if rest.first == "\"" {
                let body = rest.dropFirst()
                value = body.prefix { $0 != "\"" }
                rest = body.dropFirst(value.count + 1)
            } else {
                value = rest.prefix { $0 != "," }
                rest = rest.dropFirst(value.count)
            }
            fields[name] = String(value)
            rest = rest.drop { $0 == "," }
        }
        guard fields["METHOD"] == "AES-128", let uri = fields["URI"], let hex = fields["IV"], hex.lowercased().hasPrefix("0x") else { return nil }
        let digits = Array(hex.dropFirst(2))
        guard digits.count == 32 else { return nil }
        let iv = stride(from: 0, to: 32, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
        return iv.count == 16 ? Key(uri: uri, iv: iv) : nil
    }
}
