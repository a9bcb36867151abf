/// How stills are sized and compressed (thumbnails and keyframes jobs).
public struct StillImageOptions: Sendable, Equatable {
    /// Fit into this box without upscaling; 0: no limit.
    public var maxWidth: Int = 640
    public var maxHeight: Int = 0
    /// JPEG quantizer, 2 (best) to 31.
    public var quality: Int = 3

    public init() {}

    enum CodingKeys: String, CodingKey {
        case quality
        case maxWidth = "max_width", maxHeight = "max_height"
    }

    init<Key: CodingKey>(from fields: KeyedDecodingContainer<Key>, keys: (width: Key, height: Key, quality: Key)) throws {
        maxWidth = try fields.decodeIfPresent(Int.self, forKey: keys.width) ?? 640
        maxHeight = try fields.decodeIfPresent(Int.self, forKey: keys.height) ?? 0
        quality = try fields.decodeIfPresent(Int.self, forKey: keys.quality) ?? 3
    }
}

/// `thumbnails` options (contracts/options/thumbnails.schema.json).
public struct ThumbnailsJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.thumbnails

    /// Evenly spaced thumbnails, unless `times` are given.
    public var count: Int = 10
    public var times: [Double]?
    public var image = StillImageOptions()

    enum CodingKeys: String, CodingKey {
        case count, quality
        case times = "times_s", maxWidth = "max_width", maxHeight = "max_height"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        count = try fields.decodeIfPresent(Int.self, forKey: .count) ?? 10
        times = try fields.decodeIfPresent([Double].self, forKey: .times)
        image = try StillImageOptions(from: fields, keys: (.maxWidth, .maxHeight, .quality))
    }
}

/// `keyframes` options (contracts/options/keyframes.schema.json).
public struct KeyframesJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.keyframes

    /// 0: no limit.
    public var maxCount: Int = 0
    public var minIntervalSeconds: Double = 0
    /// 0: every keyframe; above: only those that differ this much from the last one kept.
    public var sceneThreshold: Double = 0
    public var image = StillImageOptions()

    enum CodingKeys: String, CodingKey {
        case quality
        case maxCount = "max_count", minIntervalSeconds = "min_interval_s", sceneThreshold = "scene_threshold"
        case maxWidth = "max_width", maxHeight = "max_height"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        maxCount = try fields.decodeIfPresent(Int.self, forKey: .maxCount) ?? 0
        minIntervalSeconds = try fields.decodeIfPresent(Double.self, forKey: .minIntervalSeconds) ?? 0
        sceneThreshold = try fields.decodeIfPresent(Double.self, forKey: .sceneThreshold) ?? 0
        image = try StillImageOptions(from: fields, keys: (.maxWidth, .maxHeight, .quality))
    }
}

/// `probe` takes no options (contracts/options/probe.schema.json).
public struct ProbeJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.probe
    public init(from decoder: any Decoder) throws {}
}

/// `noop` options (contracts/options/noop.schema.json).
public struct NoopJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.noop

    /// A failure drill: the job fails with this code instead of completing.
    public struct FailureDrill: Decodable, Sendable, Equatable {
        public var code: String
        public var retryable: Bool?
    }

    public var durationMilliseconds: Double = 0
    public var failWith: FailureDrill?

    enum CodingKeys: String, CodingKey {
        case durationMilliseconds = "duration_ms", failWith = "fail_with"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        durationMilliseconds = try fields.decodeIfPresent(Double.self, forKey: .durationMilliseconds) ?? 0
        failWith = try fields.decodeIfPresent(FailureDrill.self, forKey: .failWith)
    }
}
