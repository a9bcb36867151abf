/// `options.preview` of a transcode: `format` (`webp` or `gif`: an animated preview of `excerpts` excerpts
/// of `excerpt_s` at `fps`, at most `width` wide) and `waveform` (`true`, or
/// `{"pixels_per_second", "bits"}`), the audio as BBC audiowaveform JSON for players like peaks.js.
public struct PreviewOptions: Codable, Sendable, Equatable {
    public struct Waveform: Codable, Sendable, Equatable {
        public var pixelsPerSecond = 100.0
        public var bits = 8

        public init() {}

        enum CodingKeys: String, CodingKey { case pixelsPerSecond = "pixels_per_second", bits }

        public init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            pixelsPerSecond = try fields.decodeIfPresent(Double.self, forKey: .pixelsPerSecond) ?? 100
            bits = try fields.decodeIfPresent(Int.self, forKey: .bits) ?? 8
        }
    }

    /// nil: no waveform.
    public var waveform: Waveform?
    /// `webp` or `gif`: an animated preview of excerpts; nil: none.
    public var format: String?
    public var excerpts = 4
    public var excerptSeconds = 1.5
    public var fps = 10.0
    public var width = 320

    public init() {}

    enum CodingKeys: String, CodingKey { case waveform, format, excerpts, excerptSeconds = "excerpt_s", fps, width }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        format = try fields.decodeIfPresent(String.self, forKey: .format)
        excerpts = try fields.decodeIfPresent(Int.self, forKey: .excerpts) ?? 4
        excerptSeconds = try fields.decodeIfPresent(Double.self, forKey: .excerptSeconds) ?? 1.5
        fps = try fields.decodeIfPresent(Double.self, forKey: .fps) ?? 10
        width = try fields.decodeIfPresent(Int.self, forKey: .width) ?? 320
        if let on = try? fields.decode(Bool.self, forKey: .waveform) {
            waveform = on ? Waveform() : nil
        } else {
            waveform = try fields.decodeIfPresent(Waveform.self, forKey: .waveform)
        }
    }
}
