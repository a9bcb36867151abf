/// What `probe` reports about an input: the container and each stream.
public struct MediaInfo: Codable, Sendable, Equatable {
    public var container: String
    public var durationSeconds: Double?
    public var bitRate: Int64?
    public var sizeBytes: Int64?
    public var streams: [StreamInfo]

    enum CodingKeys: String, CodingKey {
        case container
        case durationSeconds = "duration_s"
        case bitRate = "bit_rate"
        case sizeBytes = "size_bytes"
        case streams
    }

    public var videoStreams: [StreamInfo] { streams.filter { $0.type == .video && !$0.isAttachedPicture } }
    public var audioStreams: [StreamInfo] { streams.filter { $0.type == .audio } }
}

public struct StreamInfo: Codable, Sendable, Equatable {
    public enum MediaType: String, Codable, Sendable { case video, audio, subtitle, data, other }

    public var index: Int
    public var type: MediaType
    public var codec: String
    public var profile: String?
    public var level: Int?
    public var bitRate: Int64?
    public var durationSeconds: Double?
    // video
    public var width: Int?
    public var height: Int?
    /// Sample (pixel) aspect ratio as "num:den", like ffprobe.
    public var sampleAspectRatio: String?
    public var averageFrameRate: String?
    public var realFrameRate: String?
    public var pixelFormat: String?
    public var bitDepth: Int?
    /// Clockwise degrees a player rotates the picture by (0, 90, 180, 270).
    public var rotation: Int?
    public var fieldOrder: String?
    public var isAttachedPicture: Bool
    // audio
    public var sampleRate: Int?
    public var channels: Int?
    public var channelLayout: String?
    public var sampleFormat: String?
    // tags
    /// The "language" tag, e.g. "eng".
    public var language: String? = nil
    public var title: String? = nil
    /// The container marks the stream default.
    public var isDefault: Bool = false

    enum CodingKeys: String, CodingKey {
        case index, type, codec, profile, level
        case bitRate = "bit_rate"
        case durationSeconds = "duration_s"
        case width, height
        case sampleAspectRatio = "sample_aspect_ratio"
        case averageFrameRate = "avg_frame_rate"
        case realFrameRate = "r_frame_rate"
        case pixelFormat = "pix_fmt"
        case bitDepth = "bit_depth"
        case rotation
        case fieldOrder = "field_order"
        case isAttachedPicture = "attached_picture"
        case sampleRate = "sample_rate"
        case channels
        case channelLayout = "channel_layout"
        case sampleFormat = "sample_fmt"
        case language, title
        case isDefault = "default"
    }


    /// Width and height as a player shows them, after rotation.
    public var displayDimensions: (width: Int, height: Int)? {
        guard let width, let height else { return nil }
        return (rotation ?? 0) % 180 == 90 ? (height, width) : (width, height)
    }
}

extension StreamInfo {
    /// Probe results written before tags were read have none.
    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        index = try fields.decode(Int.self, forKey: .index)
        type = try fields.decode(MediaType.self, forKey: .type)
        codec = try fields.decode(String.self, forKey: .codec)
        profile = try fields.decodeIfPresent(String.self, forKey: .profile)
        level = try fields.decodeIfPresent(Int.self, forKey: .level)
        bitRate = try fields.decodeIfPresent(Int64.self, forKey: .bitRate)
        durationSeconds = try fields.decodeIfPresent(Double.self, forKey: .durationSeconds)
        width = try fields.decodeIfPresent(Int.self, forKey: .width)
        height = try fields.decodeIfPresent(Int.self, forKey: .height)
        sampleAspectRatio = try fields.decodeIfPresent(String.self, forKey: .sampleAspectRatio)
        averageFrameRate = try fields.decodeIfPresent(String.self, forKey: .averageFrameRate)
        realFrameRate = try fields.decodeIfPresent(String.self, forKey: .realFrameRate)
        pixelFormat = try fields.decodeIfPresent(String.self, forKey: .pixelFormat)
        bitDepth = try fields.decodeIfPresent(Int.self, forKey: .bitDepth)
        rotation = try fields.decodeIfPresent(Int.self, forKey: .rotation)
        fieldOrder = try fields.decodeIfPresent(String.self, forKey: .fieldOrder)
        isAttachedPicture = try fields.decodeIfPresent(Bool.self, forKey: .isAttachedPicture) ?? false
        sampleRate = try fields.decodeIfPresent(Int.self, forKey: .sampleRate)
        channels = try fields.decodeIfPresent(Int.self, forKey: .channels)
        channelLayout = try fields.decodeIfPresent(String.self, forKey: .channelLayout)
        sampleFormat = try fields.decodeIfPresent(String.self, forKey: .sampleFormat)
        language = try fields.decodeIfPresent(String.self, forKey: .language)
        title = try fields.decodeIfPresent(String.self, forKey: .title)
        isDefault = try fields.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
    }
}
