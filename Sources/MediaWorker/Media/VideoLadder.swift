import CFFmpegShim
import JobContract

/// One video rendition: a bounding box (turned for portrait sources) and its rate control.
public struct VideoRung: Sendable, Equatable, Codable {
    public var maxWidth: Int
    public var maxHeight: Int
    /// Average bits/s (ABR); nil: constant quality (`crf`).
    public var bitrate: Int?
    /// VBV peak bits/s; with `crf` this makes capped CRF.
    public var maxBitrate: Int?
    /// VBV buffer bits; nil: twice `maxBitrate`.
    public var bufferSize: Int?
    /// On the codec's own scale; nil: the codec's default (about the same picture for each).
    public var crf: Double?
    public var codec: VideoCodec

    public init(maxWidth: Int, maxHeight: Int, bitrate: Int? = nil, maxBitrate: Int? = nil, bufferSize: Int? = nil, crf: Double? = nil,
                codec: VideoCodec = .h264) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.bitrate = bitrate
        self.maxBitrate = maxBitrate
        self.bufferSize = bufferSize
        self.crf = crf
        self.codec = codec
    }

    enum CodingKeys: String, CodingKey {
        case maxWidth = "max_width", maxHeight = "max_height", bitrate, maxBitrate = "max_bitrate", bufferSize = "buffer_size", crf, codec
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        maxWidth = try fields.decode(Int.self, forKey: .maxWidth)
        maxHeight = try fields.decode(Int.self, forKey: .maxHeight)
        bitrate = try fields.decodeIfPresent(Int.self, forKey: .bitrate)
        maxBitrate = try fields.decodeIfPresent(Int.self, forKey: .maxBitrate)
        bufferSize = try fields.decodeIfPresent(Int.self, forKey: .bufferSize)
        crf = try fields.decodeIfPresent(Double.self, forKey: .crf)
        // Plans written before codecs existed are H.264.
        codec = try fields.decodeIfPresent(VideoCodec.self, forKey: .codec) ?? .h264
    }

    /// The same box and rate cap in another codec, at that codec's default quality.
    public func encoded(with codec: VideoCodec) -> VideoRung {
        var rung = self
        rung.codec = codec
        if codec != self.codec { rung.crf = nil }
        return rung
    }

    var shimValue: mw_video_rung {
        let shimCodec = codec.shimCodec
        return mw_video_rung(max_width: Int32(maxWidth), max_height: Int32(maxHeight), bitrate: Int64(bitrate ?? 0),
                             max_bitrate: Int64(maxBitrate ?? 0), buffer_size: Int64(bufferSize ?? 0), crf: crf ?? 0,
                             codec: Int32(shimCodec.rawValue))
    }
}

/// The rungs an upload is encoded to.
public enum VideoLadder {
    /// H.264 rungs of Apple's HLS authoring specification (its "video average bit rate"
    /// column), as capped CRF: quality-driven, never above the table's rate.
    public static let apple: [VideoRung] = [
        VideoRung(maxWidth: 416, maxHeight: 234, maxBitrate: 145_000),
        VideoRung(maxWidth: 640, maxHeight: 360, maxBitrate: 365_000),
        VideoRung(maxWidth: 960, maxHeight: 540, maxBitrate: 2_000_000),
        VideoRung(maxWidth: 1280, maxHeight: 720, maxBitrate: 3_000_000),
        VideoRung(maxWidth: 1920, maxHeight: 1080, maxBitrate: 6_000_000),
    ]

    /// The rungs at or below the source: those whose box's short side the source's displayed
    /// short side reaches. A source smaller than every rung gets the lowest one (at its own size).
    public static func rungs(_ ladder: [VideoRung] = apple, for info: MediaInfo) -> [VideoRung] {
        guard let video = info.videoStreams.first, let display = video.displayDimensions else { return [] }
        let aspect = pixelAspect(video.sampleAspectRatio)
        let rotated = (video.rotation ?? 0) % 180 == 90
        // Square-pixel display size: the pixel aspect stretches the stored width (before rotation).
        let displayWidth = rotated ? Double(display.width) : Double(display.width) * aspect
        let displayHeight = rotated ? Double(display.height) * aspect : Double(display.height)
        let shortSide = min(displayWidth, displayHeight)
        let fitting = ladder.filter { Double(min($0.maxWidth, $0.maxHeight)) <= shortSide + 0.5 }
        if fitting.isEmpty, let lowest = ladder.min(by: { min($0.maxWidth, $0.maxHeight) < min($1.maxWidth, $1.maxHeight) }) {
            return [lowest]
        }
        return fitting
    }

    /// Every rung once per codec, H.264 first: each codec a ladder of its own in one master.
    public static func rungs(_ rungs: [VideoRung], codecs: [VideoCodec]) -> [VideoRung] {
        codecs.sorted().flatMap { codec in rungs.map { $0.encoded(with: codec) } }
    }

    static func pixelAspect(_ text: String?) -> Double {
        guard let text else { return 1 }
        let parts = text.split(separator: ":").compactMap { Double($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { return 1 }
        let value = parts[0] / parts[1]
        return (0.25...4).contains(value) ? value : 1
    }
}
