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
    }

    /// Width and height as a player shows them, after rotation.
    public var displayDimensions: (width: Int, height: Int)? {
        guard let width, let height else { return nil }
        return (rotation ?? 0) % 180 == 90 ? (height, width) : (width, height)
    }
}
