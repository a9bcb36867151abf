/// `compose` options (contracts/options/compose.schema.json): scenes of narration and pictures.
public struct ComposeJobOptions: JobOptionsType, Equatable {
    public static let jobType = JobType.compose

    public struct Scene: Decodable, Sendable, Equatable {
        /// An image or a video clip (a storage URL).
        public var visual: String
        /// The narration (a storage URL).
        public var audio: String?
        /// Spoken by the built-in TTS when there is no audio.
        public var text: String?
        /// Defaults to `text`.
        public var caption: String?
        /// Needed without audio or text; with them, a minimum.
        public var durationSeconds: Double = 0

        enum CodingKeys: String, CodingKey {
            case visual, audio, text, caption
            case durationSeconds = "duration_s"
        }

        public init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            visual = try fields.decode(String.self, forKey: .visual)
            audio = try fields.decodeIfPresent(String.self, forKey: .audio)
            text = try fields.decodeIfPresent(String.self, forKey: .text)
            caption = try fields.decodeIfPresent(String.self, forKey: .caption)
            durationSeconds = try fields.decodeIfPresent(Double.self, forKey: .durationSeconds) ?? 0
        }
    }

    public struct Output: Decodable, Sendable, Equatable {
        public var width = 1280
        public var height = 720
        /// Whole, or an NTSC rate (29.97 stays 30000/1001).
        public var fps: Double = 30
        /// Also package as HLS (a stream copy of the MP4).
        public var hls = false
        public var crf: Double = 23
        public var preset: String?

        public init() {}

        enum CodingKeys: String, CodingKey { case width, height, fps, hls, crf, preset }

        public init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            width = try fields.decodeIfPresent(Int.self, forKey: .width) ?? 1280
            height = try fields.decodeIfPresent(Int.self, forKey: .height) ?? 720
            fps = try fields.decodeIfPresent(Double.self, forKey: .fps) ?? 30
            hls = try fields.decodeIfPresent(Bool.self, forKey: .hls) ?? false
            crf = try fields.decodeIfPresent(Double.self, forKey: .crf) ?? 23
            preset = try fields.decodeIfPresent(String.self, forKey: .preset)
        }

        /// The frame rate as a fraction: whole rates over 1, NTSC rates over 1001.
        public var frameRate: (numerator: Int, denominator: Int)? {
            if fps == fps.rounded() { return (Int(fps), 1) }
            let ntsc = fps * 1001 / 1000
            if abs(ntsc - ntsc.rounded()) < 0.001 { return (Int(ntsc.rounded()) * 1000, 1001) }
            return nil
        }
    }

    public enum Fit: String, Decodable, Sendable { case cover, letterbox }

    /// `true`, `false`, or an object with one number (`{"zoom": 0.12}`, `{"size": 0.055}`).
    public enum Toggle: Decodable, Sendable, Equatable {
        case off
        case on(Double?)

        public init(from decoder: any Decoder) throws {
            if let flag = try? decoder.singleValueContainer().decode(Bool.self) {
                self = flag ? .on(nil) : .off
                return
            }
            let fields = try decoder.container(keyedBy: AnyNumberKey.self)
            self = .on(try fields.allKeys.first.map { try fields.decode(Double.self, forKey: $0) })
        }

        public var isOn: Bool { self != .off }
        public var value: Double? { if case .on(let value) = self { return value } else { return nil } }
    }

    public struct Music: Decodable, Sendable, Equatable {
        public var url: String
        public var levelDecibels: Double = -20
        public var duckDecibels: Double = -12

        enum CodingKeys: String, CodingKey {
            case url
            case levelDecibels = "level_db", duckDecibels = "duck_db"
        }

        public init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            url = try fields.decode(String.self, forKey: .url)
            levelDecibels = try fields.decodeIfPresent(Double.self, forKey: .levelDecibels) ?? -20
            duckDecibels = try fields.decodeIfPresent(Double.self, forKey: .duckDecibels) ?? -12
        }
    }

    public struct Voice: Decodable, Sendable, Equatable {
        public var name: String?
        public var rateWordsPerMinute: Double?
        public var pitch: Double?

        enum CodingKeys: String, CodingKey {
            case name, pitch
            case rateWordsPerMinute = "rate_wpm"
        }
    }

    public var scenes: [Scene]
    public var output = Output()
    public var fit: Fit = .cover
    public var kenBurns: Toggle = .off
    public var transitionSeconds: Double = 0
    public var captions: Toggle = .off
    /// Soft captions of the narration: a sidecar `captions.vtt` and, with HLS, a subtitle rendition.
    public var captionTrack = true
    public var backgroundMusic: Music?
    /// Target integrated loudness (LUFS).
    public var loudness: Double?
    public var voice: Voice?

    enum CodingKeys: String, CodingKey {
        case scenes, output, fit, captions, loudness, voice, captionTrack = "caption_track"
        case kenBurns = "ken_burns", transitionSeconds = "transition", backgroundMusic = "background_music"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        scenes = try fields.decode([Scene].self, forKey: .scenes)
        output = try fields.decodeIfPresent(Output.self, forKey: .output) ?? Output()
        fit = try fields.decodeIfPresent(Fit.self, forKey: .fit) ?? .cover
        kenBurns = try fields.decodeIfPresent(Toggle.self, forKey: .kenBurns) ?? .off
        transitionSeconds = try fields.decodeIfPresent(Double.self, forKey: .transitionSeconds) ?? 0
        captions = try fields.decodeIfPresent(Toggle.self, forKey: .captions) ?? .off
        captionTrack = try fields.decodeIfPresent(Bool.self, forKey: .captionTrack) ?? true
        backgroundMusic = try fields.decodeIfPresent(Music.self, forKey: .backgroundMusic)
        loudness = try fields.decodeIfPresent(Double.self, forKey: .loudness)
        voice = try fields.decodeIfPresent(Voice.self, forKey: .voice)
    }

    /// What the schema cannot say: a frame rate must be whole or NTSC; text is measured in bytes.
    public func check() throws(JSONValueDecodingError) {
        if output.frameRate == nil {
            throw JSONValueDecodingError(path: "options.output.fps", message: "must be whole or an NTSC rate (29.97)")
        }
        for (index, scene) in scenes.enumerated() {
            for (name, text) in [("text", scene.text), ("caption", scene.caption)] {
                if let text, text.utf8.count > Self.maxTextBytes || text.contains("\u{0}") {
                    throw JSONValueDecodingError(path: "options.scenes[\(index)].\(name)",
                                                 message: "must be at most \(Self.maxTextBytes) bytes without NUL")
                }
            }
        }
    }

    public static let maxTextBytes = 20_000
}

/// The single key of `{"zoom": 0.12}` or `{"size": 0.055}`.
struct AnyNumberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
