/// `options.captions` of a transcode: `{"auto": true, "language": "en"}` transcribes the main audio
/// track with the worker's speech recognition engine into a WebVTT subtitle rendition named e.g.
/// "English (auto)" (docs/media.md, "Automatic captions").
public struct AutoCaptionOptions: Codable, Sendable, Equatable {
    public var auto = false
    /// The spoken language, BCP 47 ("en", "de", "pt-BR").
    public var language = "en"

    public init(auto: Bool = false, language: String = "en") {
        self.auto = auto
        self.language = language
    }

    enum CodingKeys: String, CodingKey { case auto, language }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        auto = try fields.decode(Bool.self, forKey: .auto)
        language = try fields.decodeIfPresent(String.self, forKey: .language) ?? "en"
    }
}
