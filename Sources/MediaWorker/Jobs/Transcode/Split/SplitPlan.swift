import Foundation
import JobContract

/// How a long transcode is split across the pool: video chunks on segment boundaries, each
/// encoded by a part of its own for every rung, and one part for the audio (encoded once for
/// the whole input: AAC cut per chunk would drift at the joins) and the stills. Every part gets
/// the same rungs, encoder settings and timeline offset, so their segments join into one package.
struct SplitPlan: Codable, Sendable, Equatable {
    struct Chunk: Codable, Sendable, Equatable {
        var index: Int
        var start: Double
        /// nil: to the end of the input.
        var end: Double?

        var duration: Double { (end ?? start) - start }
    }

    var chunkSeconds: Double
    var chunks: [Chunk]
    var durationSeconds: Double
    var timelineOffsetSeconds: Double
    var rungs: [VideoRung]
    var preset: String
    var maxFPS: Double?
    var segmentSeconds: Double
    var thumbnails: Int
    var storyboard: Bool
    /// The job's output version, which the parts fill and the stitch publishes.
    var versionID: String
    var versionURL: String
    var slot: String
    var stableMaster: String?
    var inputETag: String?
    var hasAudio: Bool
    /// Source stream indices of the audio renditions, the main one first (plans from before: the best one).
    var audioStreams: [Int]?
    /// A DASH manifest beside the master (a period per chunk).
    var dash: Bool?
    /// Subtitle tracks the audio part makes: the upload's text streams and the job's sidecars.
    var subtitles: [PlannedSubtitle]?
    /// What the finished job's event says was skipped (bitmap subtitles).
    var warnings: [String]?
    /// Share of each chunk's segments measured for the quality report (nil: plans from before it).
    var qualitySample: Double? = nil
    /// A per-title ladder's analysis, for the finished job's event.
    var ladder: JSONValue? = nil
    /// Quality control's thresholds: each part looks at what it decodes (nil: off, or plans from before).
    var qc: QualityControlOptions? = nil
    /// The audio part's previews (`options.preview`), nil: none asked (or plans from before).
    var preview: PreviewOptions? = nil
    /// The audio part's loudness normalisation (`options.audio.loudness`), nil: none.
    var loudness: LoudnessOptions? = nil
    /// The audio part's automatic captions (`options.captions`), nil: none.
    var captions: AutoCaptionOptions? = nil

    struct PlannedSubtitle: Codable, Sendable, Equatable {
        /// The upload's stream, or nil for a sidecar read from `url`.
        var streamIndex: Int?
        var url: String?
        var language: String?
        var name: String?
        var isDefault: Bool

        enum CodingKeys: String, CodingKey {
            case url, language, name
            case streamIndex = "stream", isDefault = "default"
        }
    }

    enum CodingKeys: String, CodingKey {
        case chunks, rungs, preset, thumbnails, storyboard, slot
        case hasAudio = "has_audio"
        case chunkSeconds = "chunk_s", durationSeconds = "duration_s", timelineOffsetSeconds = "timeline_offset_s"
        case maxFPS = "max_fps", segmentSeconds = "segment_duration_s", versionID = "version", versionURL = "version_url"
        case stableMaster = "stable_master", inputETag = "input_etag", audioStreams = "audio_streams", dash, subtitles, warnings
        case qualitySample = "quality_sample", ladder, qc, preview, loudness, captions
    }

    /// Chunks are this long unless the job says (a multiple of the segment duration).
    static let defaultChunkSeconds = 30.0
    /// More parts than this and the per-part overhead outweighs the parallelism: chunks grow.
    static let maxChunks = 500

    /// The chunk length for an input: `requested` (or the default) rounded up to whole segments,
    /// and longer when the input would otherwise make too many chunks.
    static func chunkLength(requested: Double?, duration: Double, segment: Double) -> Double {
        var length = max(requested ?? defaultChunkSeconds, segment)
        length = max(length, duration / Double(maxChunks))
        return (length / segment).rounded(.up) * segment
    }

    static func chunks(duration: Double, length: Double) -> [Chunk] {
        var chunks: [Chunk] = []
        var start = 0.0
        while start < duration - 1e-6 {
            let end = start + length
            // The last chunk runs to the end of the input (whatever its exact length); a last half
            // second joins the chunk before, as it joins the last segment in one pass.
            let last = end >= duration - min(0.5, length / 4)
            chunks.append(Chunk(index: chunks.count, start: start, end: last ? nil : end))
            if last { break }
            start = end
        }
        return chunks
    }

    /// The timeline offset every part shares: the one-pass rule (B-frame delay, AAC priming, at
    /// least 0.2 s) worked out from the frame rate alone, since no part opens every encoder.
    static func timelineOffset(frameRate: Double) -> Double {
        let bFrameDelay = frameRate > 0 ? 3 / frameRate : 0
        let aacPriming = 1024.0 / 44100
        return max(0.2, (max(bFrameDelay, aacPriming) * 10).rounded(.up) / 10)
    }
}

/// What one part of a split transcode is given (its payload's `part`).
struct PartTask: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable { case video, audio }

    var kind: Kind
    var parent: String
    /// The chunk index, or "audio".
    var asset: String
    var chunk: SplitPlan.Chunk?
    var plan: SplitPlan

    static let videoType = "transcode_chunk"
    static let audioType = "transcode_audio"
}

/// What a video chunk made, per rung: its segments (URIs relative to the job's version), its
/// I-frames and its measured figures. Stored as the part's result; the stitch joins them.
struct ChunkRendition: Codable, Sendable, Equatable {
    struct Segment: Codable, Sendable, Equatable {
        var uri: String
        var duration: Double
    }

    struct IFrame: Codable, Sendable, Equatable {
        var uri: String
        var duration: Double
        var offset: Int64
        var length: Int64
    }

    /// "720p", "audio".
    var name: String
    var width: Int?
    var height: Int?
    var frameRate: Double?
    var codecs: String
    var audioChannels: Int?
    /// The init segment every segment of the rung needs (relative to the version).
    var initURI: String
    /// SHA-256 of the init segment: the parameter sets every part must share.
    var initDigest: String
    var segments: [Segment]
    var iframes: [IFrame]
    var peakBitrate: Int
    var averageBitrate: Int
    var iframePeakBitrate: Int?
    var iframeAverageBitrate: Int?
    var durationSeconds: Double
    /// Audio: the source stream's language and title tags.
    var language: String? = nil
    var title: String? = nil

    enum CodingKeys: String, CodingKey {
        case name, width, height, codecs, segments, iframes, language, title
        case frameRate = "frame_rate", audioChannels = "audio_channels", initURI = "init", initDigest = "init_sha256"
        case peakBitrate = "peak_bitrate", averageBitrate = "average_bitrate", iframePeakBitrate = "iframe_peak_bitrate"
        case iframeAverageBitrate = "iframe_average_bitrate", durationSeconds = "duration_s"
    }
}

/// A part's stored result.
/// A subtitle rendition the audio part made: its files stay in the part's folder.
struct PartSubtitle: Codable, Sendable, Equatable {
    var rendition: SubtitleRendition
    /// The part's folder for it, relative to the version ("parts/audio/a1/subs-0/").
    var folder: String
    /// Its segmented playlist as the part wrote it (segment names relative to `folder`).
    var playlist: String
    /// Its whole WebVTT (a few KB for a film): the stitch cuts it per DASH period.
    var webvtt: String
}

struct PartResult: Codable, Sendable, Equatable {
    var asset: String
    var start: Double?
    var end: Double?
    var renditions: [ChunkRendition]
    /// The audio part: the stills it made (poster, thumbnails, storyboard), as event data.
    var stills: JSONValue?
    var encodeSeconds: Double
    var worker: String
    var subtitles: [PartSubtitle]? = nil
    var timelineOffsetSeconds: Double? = nil
    /// A chunk: its measured segments, for the job's quality report.
    var quality: [SegmentQuality]? = nil
    /// What quality control saw in this part (raw: the stitch joins the parts').
    var qc: QualityControlReport? = nil
    /// The audio part: its loudness normalisation, as event data.
    var loudness: JSONValue? = nil
    /// The audio part: what its automatic captions' engine heard, as event data.
    var captions: JSONValue? = nil

    enum CodingKeys: String, CodingKey {
        case asset, start, end, renditions, stills, worker, subtitles, quality, qc, loudness, captions
        case timelineOffsetSeconds = "timeline_offset_s"
        case encodeSeconds = "encode_s"
    }
}
