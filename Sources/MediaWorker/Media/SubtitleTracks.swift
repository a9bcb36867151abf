import CFFmpegShim
import Foundation

/// A text subtitle track to package: a stream of the upload or a sidecar file.
public struct SubtitleSource: Sendable, Equatable {
    public var path: String
    /// The upload's stream index; nil: a sidecar file (its first subtitle stream, times from zero).
    public var streamIndex: Int?
    public var language: String?
    public var name: String?
    public var isDefault = false

    public init(path: String, streamIndex: Int?, language: String?, name: String?, isDefault: Bool = false) {
        self.path = path
        self.streamIndex = streamIndex
        self.language = language
        self.name = name
        self.isDefault = isDefault
    }
}

/// A packaged subtitle rendition: segmented WebVTT for HLS (`subs-0/index.m3u8`) and the whole
/// file for DASH (`subs-0/all.vtt`), cue times on the package's timeline.
public struct SubtitleRendition: Sendable, Equatable, Codable {
    public var folder: String
    public var language: String?
    public var name: String
    public var isDefault: Bool
    public var cueCount: Int

    public var playlist: String { folder + "/index.m3u8" }
    public var wholeFile: String { folder + "/all.vtt" }

    enum CodingKeys: String, CodingKey {
        case folder, language, name
        case isDefault = "default", cueCount = "cues"
    }
}

/// Makes subtitle renditions, and says which streams of an upload can be made.
public enum SubtitleTracks {
    /// Text subtitle streams of the upload as sources; bitmap ones (DVD, PGS, DVB) are returned apart.
    public static func sources(_ info: MediaInfo, path: String) -> (text: [SubtitleSource], bitmap: [StreamInfo]) {
        let subtitles = info.streams.filter { $0.type == .subtitle }
        let text = subtitles.filter { mw_is_text_subtitle($0.codec) != 0 }
        return (text.map { SubtitleSource(path: path, streamIndex: $0.index, language: $0.language, name: $0.title, isDefault: $0.isDefault) },
                subtitles.filter { mw_is_text_subtitle($0.codec) == 0 })
    }

    /// What the job's event says of the bitmap streams it skipped.
    public static func warnings(skipping bitmap: [StreamInfo]) -> [String] {
        bitmap.map { "subtitle stream \($0.index) (\($0.codec)) is a bitmap, not text: skipped" }
    }

    /// Writes `<directory>/subs-<n>/` for each source: all.vtt, seg-*.vtt and index.m3u8.
    static func make(_ sources: [SubtitleSource], directory: String, duration: Double, segmentSeconds: Double, timelineOffset: Double,
                     limits: MediaLimits) async throws(MediaError) -> [SubtitleRendition] {
        var renditions: [SubtitleRendition] = []
        var names: Set<String> = []
        for (number, source) in sources.enumerated() {
            let folder = "subs-\(number)"
            do {
                try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
            } catch {
                throw MediaError(code: .outputFailed, message: "cannot create \(folder): \(error.localizedDescription)")
            }
            let whole = directory + "/" + folder + "/all.vtt"
            let shimLimits = limits.shimValue
            let counter = try await ShimCall.run(CueCounter(progress: nil)) { counter, token, message in
                var limitsValue = shimLimits
                return mw_extract_webvtt(source.path, Int32(source.streamIndex ?? -1), source.streamIndex == nil ? 0 : 1, whole,
                                         &limitsValue, token.raw, &counter.count, message, 512)
            }
            let text = (try? String(contentsOfFile: whole, encoding: .utf8)) ?? ""
            let cues = WebVTT.cues(text)
            let (segments, playlist) = WebVTT.segmented(cues, duration: duration, segmentSeconds: segmentSeconds, timelineOffset: timelineOffset)
            do {
                for segment in segments {
                    try segment.text.write(toFile: directory + "/" + folder + "/" + segment.name, atomically: false, encoding: .utf8)
                }
                try playlist.write(toFile: directory + "/" + folder + "/index.m3u8", atomically: false, encoding: .utf8)
            } catch {
                throw MediaError(code: .outputFailed, message: "cannot write \(folder): \(error.localizedDescription)")
            }
            var name = AudioTracks.name(title: source.name, language: source.language, number: number, fallback: "Subtitles \(number + 1)")
            if names.contains(name) { name += " \(number + 1)" }
            names.insert(name)
            renditions.append(SubtitleRendition(folder: folder, language: source.language, name: name, isDefault: source.isDefault,
                                                cueCount: Int(counter.count)))
        }
        return renditions
    }
}

final class CueCounter: ShimCallbacks, @unchecked Sendable {
    var count: Int32 = 0
}
