import CFFmpegShim
import Foundation

/// One scene of a composition: a picture or clip shown for as long as its narration lasts.
public struct ComposeScene: Sendable, Equatable {
    /// Local path of an image (PNG, JPEG, WebP) or a video clip.
    public var visual: String
    /// Local path of the narration; nil: silence for `durationSeconds`.
    public var audio: String?
    public var caption: String?
    /// 0: the narration's length; else at least this long (silence after the narration).
    public var durationSeconds: Double

    public init(visual: String, audio: String? = nil, caption: String? = nil, durationSeconds: Double = 0) {
        self.visual = visual
        self.audio = audio
        self.caption = caption
        self.durationSeconds = durationSeconds
    }
}

/// How the scenes become a video.
public struct ComposeOptions: Sendable, Equatable {
    public enum Fit: String, Sendable, Codable { case cover, letterbox }

    public var width = 1280
    public var height = 720
    public var fpsNumerator = 30
    public var fpsDenominator = 1
    public var fit: Fit = .cover
    /// Slow zoom and pan on stills; the zoom reached over one scene (0.12 = 12 %).
    public var kenBurns = false
    public var kenBurnsZoom = 0.12
    /// Crossfade centred on each boundary; 0: cuts.
    public var transitionSeconds = 0.0
    public var captions = false
    /// Font height as a fraction of the frame height.
    public var captionSize = 0.055
    /// Local path of background music (looped), its level and how far it ducks under speech.
    public var music: String?
    public var musicDecibels = -20.0
    public var duckDecibels = -12.0
    /// Integrated loudness target (EBU R128, LUFS); nil: as is.
    public var loudnessLUFS: Double?
    public var crf = 23.0
    public var settings = EncodeSettings()

    public init() {}
}

/// What `Composer.compose` wrote.
public struct Composition: Sendable, Equatable {
    public struct SceneTiming: Sendable, Equatable {
        public var startSeconds: Double
        public var endSeconds: Double

        public init(startSeconds: Double, endSeconds: Double) {
            self.startSeconds = startSeconds
            self.endSeconds = endSeconds
        }
    }

    public var path: String
    public var frameCount: Int
    public var durationSeconds: Double
    public var audioDurationSeconds: Double
    public var codecs: String
    public var scenes: [SceneTiming]
    /// Integrated loudness before normalisation and the gain applied (loudness on).
    public var measuredLUFS: Double?
    public var gainDecibels: Double?
}

/// Narration and pictures into one MP4, in sync to the frame (the shim's `mw_compose`).
public enum Composer {
    /// Writes `outputPath` through a temporary file beside it, renamed when complete. A bad scene
    /// fails with the media code of what went wrong and a message naming the scene ("scene 3 (audio): ...").
    public static func compose(
        scenes: [ComposeScene], options: ComposeOptions, outputPath: String, limits: MediaLimits = MediaLimits(),
        progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> Composition {
        guard EncodeSettings.presets.contains(options.settings.preset) else {
            throw MediaError(code: .invalidArgument, message: "unknown x264 preset \(options.settings.preset)")
        }
        let (directory, name) = splitPath(outputPath)
        let temporary = directory + "/.\(name).partial-\(UUID().uuidString.prefix(8)).mp4"
        let count = scenes.count
        do throws(MediaError) {
            let callbacks = try await ShimCall.run(ComposeCallbacks(progress: progress)) { callbacks, token, message in
                callbacks.starts = [Double](repeating: 0, count: count)
                callbacks.ends = [Double](repeating: 0, count: count)
                return withShimScenes(scenes) { shimScenes in
                    withShimOptions(options) { shimOptions in
                        var shimLimits = limits.shimValue
                        return callbacks.starts.withUnsafeMutableBufferPointer { starts in
                            callbacks.ends.withUnsafeMutableBufferPointer { ends in
                                mw_compose(shimScenes, Int32(count), shimOptions, temporary, &shimLimits, token.raw, shimProgressCallback,
                                           callbacks.pointer, starts.baseAddress, ends.baseAddress, &callbacks.result, message, 512)
                            }
                        }
                    }
                }
            }
            guard rename(temporary, outputPath) == 0 else {
                throw MediaError(code: .outputFailed, message: "cannot move the output to \(outputPath): \(String(cString: strerror(errno)))")
            }
            let result = callbacks.result
            let loudness = options.loudnessLUFS != nil
            return Composition(
                path: outputPath, frameCount: Int(result.frame_count), durationSeconds: result.duration_s,
                audioDurationSeconds: result.audio_duration_s, codecs: cString(result.codecs),
                scenes: zip(callbacks.starts, callbacks.ends).map { Composition.SceneTiming(startSeconds: $0, endSeconds: $1) },
                measuredLUFS: loudness ? result.measured_lufs : nil, gainDecibels: loudness ? result.gain_db : nil)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// C strings for every scene, alive for the duration of `body`.
    private static func withShimScenes<T>(_ scenes: [ComposeScene], _ body: (UnsafePointer<mw_compose_scene>) -> T) -> T {
        var storage: [UnsafeMutablePointer<CChar>] = []
        defer { storage.forEach { free($0) } }
        func keep(_ text: String?) -> UnsafePointer<CChar>? {
            guard let text, let copy = strdup(text) else { return nil }
            storage.append(copy)
            return UnsafePointer(copy)
        }
        let shimScenes = scenes.map { scene in
            mw_compose_scene(visual: keep(scene.visual), audio: keep(scene.audio), caption: keep(scene.caption), duration_s: scene.durationSeconds)
        }
        return shimScenes.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withShimOptions<T>(_ options: ComposeOptions, _ body: (UnsafePointer<mw_compose_options>) -> T) -> T {
        var shim = mw_compose_options()
        mw_compose_options_init_default(&shim)
        shim.width = Int32(clamping: options.width)
        shim.height = Int32(clamping: options.height)
        shim.fps_num = Int32(clamping: options.fpsNumerator)
        shim.fps_den = Int32(clamping: options.fpsDenominator)
        shim.fit = options.fit == .letterbox ? Int32(MW_FIT_LETTERBOX.rawValue) : Int32(MW_FIT_COVER.rawValue)
        shim.ken_burns = options.kenBurns ? 1 : 0
        shim.ken_burns_zoom = options.kenBurnsZoom
        shim.transition_s = options.transitionSeconds
        shim.captions = options.captions ? 1 : 0
        shim.caption_size = options.captionSize
        shim.music_db = options.musicDecibels
        shim.duck_db = options.duckDecibels
        shim.loudness_lufs = options.loudnessLUFS ?? 0
        shim.video.crf = options.crf
        shim.settings = options.settings.shimValue
        let music = options.music.flatMap { strdup($0) }
        defer { free(music) }
        shim.music = UnsafePointer(music)
        return body(&shim)
    }
}

final class ComposeCallbacks: ShimCallbacks, @unchecked Sendable {
    var result = mw_compose_result()
    var starts: [Double] = []
    var ends: [Double] = []
}
