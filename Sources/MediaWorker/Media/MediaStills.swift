import CFFmpegShim
import Foundation

/// A JPEG written from a video: where it is, which moment it shows, its size.
public struct StillImage: Sendable, Equatable, Codable {
    public var index: Int
    public var timeSeconds: Double
    public var width: Int
    public var height: Int
    public var path: String

    enum CodingKeys: String, CodingKey {
        case index, width, height, path
        case timeSeconds = "time_s"
    }
}

/// Output images: upright, square pixels, fitted into a box without upscaling.
public struct ImageSpec: Sendable, Equatable {
    public var maxWidth: Int32 = 0
    public var maxHeight: Int32 = 0
    /// JPEG qscale, 2 (best) to 31.
    public var quality: Int32 = 3

    public init(maxWidth: Int32 = 0, maxHeight: Int32 = 0, quality: Int32 = 3) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.quality = quality
    }

    var shimValue: mw_image_spec { mw_image_spec(max_width: maxWidth, max_height: maxHeight, quality: quality) }
}

public struct KeyframeOptions: Sendable, Equatable {
    /// 0: every keyframe.
    public var maxCount: Int32 = 0
    /// Keyframes closer than this to the last one kept are skipped.
    public var minIntervalSeconds: Double = 0
    /// 0...1: keep a keyframe only if it differs this much from the last one kept.
    public var sceneThreshold: Double = 0

    public init(maxCount: Int32 = 0, minIntervalSeconds: Double = 0, sceneThreshold: Double = 0) {
        self.maxCount = maxCount
        self.minIntervalSeconds = minIntervalSeconds
        self.sceneThreshold = sceneThreshold
    }
}

/// A sprite sheet and its WebVTT seek-preview track (`#xywh=` cues, as Mux serves them).
public struct Storyboard: Sendable, Equatable {
    public var spritePath: String
    public var vttPath: String
    public var tileWidth: Int
    public var tileHeight: Int
    public var columns: Int
    public var rows: Int
    public var count: Int
    public var intervalSeconds: Double
    public var durationSeconds: Double
}

/// Keyframes, thumbnails, poster and storyboard, made by the shim off Swift's shared threads.
public enum MediaStills {
    public static func keyframes(
        input: String, outputDirectory: String, prefix: String = "keyframe-", options: KeyframeOptions = KeyframeOptions(),
        image: ImageSpec = ImageSpec(), limits: MediaLimits = MediaLimits(), progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> [StillImage] {
        try await run(progress: progress) { collector, token, message in
            var opts = mw_keyframe_options(max_count: options.maxCount, min_interval_s: options.minIntervalSeconds,
                                           scene_threshold: options.sceneThreshold)
            var spec = image.shimValue
            var shimLimits = limits.shimValue
            return mw_extract_keyframes(input, outputDirectory, prefix, &opts, &spec, &shimLimits, token.raw,
                                        collectImage, reportProgress, collector.pointer, message, 512)
        }.images
    }

    /// At `times` (seconds), or `count` evenly spaced over the duration when `times` is nil.
    public static func thumbnails(
        input: String, outputDirectory: String, prefix: String = "thumbnail-", times: [Double]? = nil, count: Int = 10,
        image: ImageSpec = ImageSpec(), limits: MediaLimits = MediaLimits(), progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> [StillImage] {
        let wanted = times?.count ?? count
        return try await run(progress: progress) { collector, token, message in
            var spec = image.shimValue
            var shimLimits = limits.shimValue
            if let times {
                return times.withUnsafeBufferPointer { buffer in
                    mw_extract_thumbnails(input, outputDirectory, prefix, buffer.baseAddress, Int32(wanted), &spec, &shimLimits,
                                          token.raw, collectImage, reportProgress, collector.pointer, message, 512)
                }
            }
            return mw_extract_thumbnails(input, outputDirectory, prefix, nil, Int32(wanted), &spec, &shimLimits,
                                         token.raw, collectImage, reportProgress, collector.pointer, message, 512)
        }.images
    }

    /// A representative frame: the most detailed of several candidates, never black or flat when the video has better.
    public static func poster(
        input: String, outputPath: String, image: ImageSpec = ImageSpec(), limits: MediaLimits = MediaLimits()
    ) async throws(MediaError) -> StillImage {
        let collector = try await run(progress: nil) { collector, token, message in
            var spec = image.shimValue
            var shimLimits = limits.shimValue
            var chosen = 0.0
            let status = mw_extract_poster(input, outputPath, &spec, &shimLimits, token.raw, &chosen, message, 512)
            collector.posterTime = chosen
            return status
        }
        let info = try await MediaProbe.probe(path: outputPath)
        return StillImage(index: 0, timeSeconds: collector.posterTime, width: info.streams.first?.width ?? 0,
                          height: info.streams.first?.height ?? 0, path: outputPath)
    }

    /// One tile every `interval` seconds (at most `maxTiles`), `tileWidth` wide, `columns` per row;
    /// writes the sprite JPEG and a WebVTT whose cues name `spriteURL#xywh=x,y,w,h` and cover the duration.
    public static func storyboard(
        input: String, spritePath: String, vttPath: String, spriteURL: String, tileWidth: Int32 = 160, columns: Int32 = 10,
        intervalSeconds: Double = 5, maxTiles: Int32 = 400, limits: MediaLimits = MediaLimits(),
        progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> Storyboard {
        let collector = try await run(progress: progress) { collector, token, message in
            var shimLimits = limits.shimValue
            var info = mw_storyboard_info()
            let status = mw_make_storyboard(input, spritePath, tileWidth, columns, intervalSeconds, maxTiles, &shimLimits,
                                            token.raw, reportProgress, collector.pointer, &info, message, 512)
            collector.storyboard = info
            return status
        }
        let info = collector.storyboard
        let board = Storyboard(
            spritePath: spritePath, vttPath: vttPath, tileWidth: Int(info.tile_width), tileHeight: Int(info.tile_height),
            columns: Int(info.columns), rows: Int(info.rows), count: Int(info.count), intervalSeconds: info.interval_s,
            durationSeconds: info.duration_s)
        do {
            try webVTT(for: board, spriteURL: spriteURL).write(toFile: vttPath, atomically: true, encoding: .utf8)
        } catch {
            throw MediaError(code: .internal, message: "cannot write \(vttPath): \(error)")
        }
        return board
    }

    /// The WebVTT track of a storyboard: one cue per tile, the last one ending at the duration.
    static func webVTT(for board: Storyboard, spriteURL: String) -> String {
        var text = "WEBVTT\n"
        let end = board.durationSeconds > 0 ? board.durationSeconds : Double(board.count) * board.intervalSeconds
        for index in 0..<board.count {
            let start = Double(index) * board.intervalSeconds
            let stop = index == board.count - 1 ? max(end, start + 0.001) : min(Double(index + 1) * board.intervalSeconds, end)
            let x = (index % board.columns) * board.tileWidth
            let y = (index / board.columns) * board.tileHeight
            text += "\n\(timestamp(start)) --> \(timestamp(stop))\n\(spriteURL)#xywh=\(x),\(y),\(board.tileWidth),\(board.tileHeight)\n"
        }
        return text
    }

    static func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((seconds * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60, milliseconds / 1000 % 60, milliseconds % 1000)
    }

    private static func run(
        progress: (@Sendable (Double) -> Void)?,
        _ body: @Sendable @escaping (StillCollector, CancelToken, UnsafeMutablePointer<CChar>) -> mw_status
    ) async throws(MediaError) -> StillCollector {
        try await ShimCall.run(StillCollector(progress: progress), body)
    }
}

/// What the still-image calls report through their callbacks.
final class StillCollector: ShimCallbacks, @unchecked Sendable {
    var images: [StillImage] = []
    var posterTime = 0.0
    var storyboard = mw_storyboard_info()
}

private let collectImage: mw_image_callback = { user, index, time, width, height, path in
    guard let collector = ShimCallbacks.from(user) as? StillCollector, let path else { return }
    collector.images.append(StillImage(index: Int(index), timeSeconds: time, width: Int(width), height: Int(height), path: String(cString: path)))
}

private let reportProgress = shimProgressCallback
