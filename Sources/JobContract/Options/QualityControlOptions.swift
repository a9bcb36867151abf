/// `options.qc` of a transcode: `true` (the defaults, also when absent), `false`, or thresholds
/// per kind (`black`, `frozen`, `silence`), each field optional.
public struct QualityControlOptions: Codable, Sendable, Equatable {
    public var enabled = true
    public var blackMinSeconds = 2.0
    /// A pixel is black at or below this share of the luma range.
    public var blackPixelThreshold = 0.10
    /// A picture is black when this share of its pixels is.
    public var blackPictureRatio = 0.98
    public var frozenMinSeconds = 2.0
    /// Pictures closer than this are the same picture.
    public var frozenNoiseDB = -60.0
    public var silenceMinSeconds = 2.0
    /// Audio at or below this level is silence.
    public var silenceNoiseDB = -60.0

    public init() {}

    enum Kinds: String, CodingKey { case black, frozen, silence }
    enum Fields: String, CodingKey {
        case minDuration = "min_duration_s", pixelThreshold = "pixel_threshold", pictureRatio = "picture_ratio", noiseDB = "noise_db"
    }

    /// The object form with every field (a split job's plan carries it to its parts).
    public func encode(to encoder: any Encoder) throws {
        guard enabled else {
            var single = encoder.singleValueContainer()
            try single.encode(false)
            return
        }
        var kinds = encoder.container(keyedBy: Kinds.self)
        var black = kinds.nestedContainer(keyedBy: Fields.self, forKey: .black)
        try black.encode(blackMinSeconds, forKey: .minDuration)
        try black.encode(blackPixelThreshold, forKey: .pixelThreshold)
        try black.encode(blackPictureRatio, forKey: .pictureRatio)
        var frozen = kinds.nestedContainer(keyedBy: Fields.self, forKey: .frozen)
        try frozen.encode(frozenMinSeconds, forKey: .minDuration)
        try frozen.encode(frozenNoiseDB, forKey: .noiseDB)
        var silence = kinds.nestedContainer(keyedBy: Fields.self, forKey: .silence)
        try silence.encode(silenceMinSeconds, forKey: .minDuration)
        try silence.encode(silenceNoiseDB, forKey: .noiseDB)
    }

    public init(from decoder: any Decoder) throws {
        if let on = try? decoder.singleValueContainer().decode(Bool.self) {
            enabled = on
            return
        }
        let kinds = try decoder.container(keyedBy: Kinds.self)
        if kinds.contains(.black) {
            let black = try kinds.nestedContainer(keyedBy: Fields.self, forKey: .black)
            blackMinSeconds = try black.decodeIfPresent(Double.self, forKey: .minDuration) ?? blackMinSeconds
            blackPixelThreshold = try black.decodeIfPresent(Double.self, forKey: .pixelThreshold) ?? blackPixelThreshold
            blackPictureRatio = try black.decodeIfPresent(Double.self, forKey: .pictureRatio) ?? blackPictureRatio
        }
        if kinds.contains(.frozen) {
            let frozen = try kinds.nestedContainer(keyedBy: Fields.self, forKey: .frozen)
            frozenMinSeconds = try frozen.decodeIfPresent(Double.self, forKey: .minDuration) ?? frozenMinSeconds
            frozenNoiseDB = try frozen.decodeIfPresent(Double.self, forKey: .noiseDB) ?? frozenNoiseDB
        }
        if kinds.contains(.silence) {
            let silence = try kinds.nestedContainer(keyedBy: Fields.self, forKey: .silence)
            silenceMinSeconds = try silence.decodeIfPresent(Double.self, forKey: .minDuration) ?? silenceMinSeconds
            silenceNoiseDB = try silence.decodeIfPresent(Double.self, forKey: .noiseDB) ?? silenceNoiseDB
        }
    }
}
