/// `options.preview` of a transcode: `waveform` (`true`, or `{"pixels_per_second", "bits"}`), the
/// audio as BBC audiowaveform JSON for players like peaks.js.
public struct PreviewOptions: Decodable, Sendable, Equatable {
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

    public init() {}

    enum CodingKeys: String, CodingKey { case waveform }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        if let on = try? fields.decode(Bool.self, forKey: .waveform) {
            waveform = on ? Waveform() : nil
        } else {
            waveform = try fields.decodeIfPresent(Waveform.self, forKey: .waveform)
        }
    }
}
