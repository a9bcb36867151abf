/// One entry of `options.audio_tracks`: an audio stream of the source by its number among the
/// audio streams (0 = the first), or every audio stream tagged with a language ("fra", "fr").
public enum AudioTrackPick: Decodable, Sendable, Equatable {
    case number(Int)
    case language(String)

    public init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let number = try? value.decode(Int.self) {
            self = .number(number)
        } else {
            self = .language(try value.decode(String.self).lowercased())
        }
    }
}
