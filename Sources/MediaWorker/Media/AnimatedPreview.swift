import CFFmpegShim

/// An animated WebP (or GIF) for grids: a few short excerpts spread over the video, small and
/// looping (`preview.webp` or `preview.gif` of a transcode with `options.preview.format`).
public struct AnimatedPreview: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var frames: Int
    public var excerpts: Int
    public var durationSeconds: Double

    public struct Settings: Sendable, Equatable {
        public var excerpts = 4
        public var excerptSeconds = 1.5
        public var fps = 10.0
        public var maxWidth = 320
        public var quality = 70
        /// An animated GIF (a palette per frame) instead of WebP.
        public var gif = false
        public init() {}

        var shimValue: mw_preview_settings {
            var value = mw_preview_settings()
            mw_preview_settings_init_default(&value)
            value.excerpts = Int32(excerpts)
            value.excerpt_s = excerptSeconds
            value.fps = fps
            value.max_width = Int32(maxWidth)
            value.quality = Int32(quality)
            value.gif = gif ? 1 : 0
            return value
        }
    }

    public static func make(input: String, outputPath: String, settings: Settings = Settings(),
                            limits: MediaLimits = MediaLimits()) async throws(MediaError) -> AnimatedPreview {
        let callbacks = try await ShimCall.run(PreviewCallbacks(progress: nil)) { callbacks, token, message in
            var shimSettings = settings.shimValue
            var shimLimits = limits.shimValue
            return mw_animated_preview(input, outputPath, &shimSettings, &shimLimits, token.raw, callbacks.result, message, 512)
        }
        return AnimatedPreview(callbacks.result.pointee)
    }

    init(width: Int, height: Int, frames: Int, excerpts: Int, durationSeconds: Double) {
        self.width = width
        self.height = height
        self.frames = frames
        self.excerpts = excerpts
        self.durationSeconds = durationSeconds
    }

    init(_ raw: mw_preview_result) {
        self.init(width: Int(raw.width), height: Int(raw.height), frames: Int(raw.frames), excerpts: Int(raw.excerpts),
                  durationSeconds: raw.duration_s)
    }
}

final class PreviewCallbacks: ShimCallbacks, @unchecked Sendable {
    let result = UnsafeMutablePointer<mw_preview_result>.allocate(capacity: 1)

    required init(progress: (@Sendable (Double) -> Void)?) {
        result.initialize(to: mw_preview_result())
        super.init(progress: progress)
    }

    deinit { result.deallocate() }
}
