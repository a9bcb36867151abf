/// `transcode` options (contracts/options/transcode.schema.json). Absent fields keep the
/// media layer's defaults.
public struct TranscodeJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.transcode

    public enum SegmentFormat: String, Decodable, Sendable { case fmp4, ts }
    public enum AudioLayout: String, Decodable, Sendable { case shared, muxed }
    public enum Packaging: String, Decodable, Sendable { case auto, encode, copy }

    /// Rung heights of the default ladder.
    public var renditions: [Int]?
    public var segmentFormat: SegmentFormat?
    public var segmentDurationSeconds: Double?
    public var audio: AudioLayout?
    public var packaging: Packaging?
    /// An x264 preset.
    public var preset: String?
    public var maxFPS: Double?
    /// Evenly spaced thumbnails.
    public var thumbnails: Int = 5
    public var storyboard: Bool = true
    /// Heights of MP4 renditions made besides HLS.
    public var mp4: [Int] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case renditions, audio, packaging, preset, thumbnails, storyboard, mp4
        case segmentFormat = "segment_format", segmentDurationSeconds = "segment_duration_s", maxFPS = "max_fps"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        renditions = try fields.decodeIfPresent([Int].self, forKey: .renditions)
        segmentFormat = try fields.decodeIfPresent(SegmentFormat.self, forKey: .segmentFormat)
        segmentDurationSeconds = try fields.decodeIfPresent(Double.self, forKey: .segmentDurationSeconds)
        audio = try fields.decodeIfPresent(AudioLayout.self, forKey: .audio)
        packaging = try fields.decodeIfPresent(Packaging.self, forKey: .packaging)
        preset = try fields.decodeIfPresent(String.self, forKey: .preset)
        maxFPS = try fields.decodeIfPresent(Double.self, forKey: .maxFPS)
        thumbnails = try fields.decodeIfPresent(Int.self, forKey: .thumbnails) ?? 5
        storyboard = try fields.decodeIfPresent(Bool.self, forKey: .storyboard) ?? true
        mp4 = try fields.decodeIfPresent([Int].self, forKey: .mp4) ?? []
    }
}
