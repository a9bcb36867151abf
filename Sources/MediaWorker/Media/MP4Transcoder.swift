import CFFmpegShim
import Foundation

/// An MP4 rendition written by `MP4Transcoder`.
public struct MP4Rendition: Sendable, Equatable {
    public var path: String
    public var width: Int
    public var height: Int
    public var frameRate: Double
    public var codecs: String
    public var durationSeconds: Double
}

/// One MP4 file: H.264 + AAC, moov first (plays while downloading), no source metadata.
public enum MP4Transcoder {
    /// Writes `outputPath` through a temporary file beside it, renamed when complete.
    public static func transcode(
        input: String, outputPath: String, rung: VideoRung, settings: EncodeSettings = EncodeSettings(),
        limits: MediaLimits = MediaLimits(), progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(MediaError) -> MP4Rendition {
        guard EncodeSettings.presets.contains(settings.preset) else {
            throw MediaError(code: .invalidArgument, message: "unknown x264 preset \(settings.preset)")
        }
        let (directory, name) = splitPath(outputPath)
        let temporary = directory + "/.\(name).partial-\(UUID().uuidString.prefix(8)).mp4"
        let shimRung = rung.shimValue
        do throws(MediaError) {
            let callbacks = try await ShimCall.run(MP4Callbacks(progress: progress)) { callbacks, token, message in
                var rungValue = shimRung
                var shimSettings = settings.shimValue
                var shimLimits = limits.shimValue
                return mw_transcode_mp4(input, temporary, &rungValue, &shimSettings, &shimLimits, token.raw, shimProgressCallback,
                                        callbacks.pointer, &callbacks.info, message, 512)
            }
            guard rename(temporary, outputPath) == 0 else {
                throw MediaError(code: .outputFailed, message: "cannot move the output to \(outputPath): \(String(cString: strerror(errno)))")
            }
            let info = callbacks.info
            return MP4Rendition(path: outputPath, width: Int(info.width), height: Int(info.height),
                                frameRate: info.fps_den > 0 ? Double(info.fps_num) / Double(info.fps_den) : 0,
                                codecs: cString(info.codecs), durationSeconds: info.duration_s)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

final class MP4Callbacks: ShimCallbacks, @unchecked Sendable {
    var info = mw_rendition_info()
}
