import CFFmpegShim
import Foundation
import JobContract

/// One measured segment of one video rendition: sums over its frames, so segments (and the
/// chunks of a split job) add up before anything is averaged.
public struct SegmentQuality: Sendable, Equatable, Codable {
    /// The rendition's folder, e.g. "720p".
    public var rendition: String
    public var codec: VideoCodec
    public var width: Int
    public var height: Int
    /// File name in the rendition's folder, e.g. "seg-00003.m4s".
    public var segment: String
    public var startSeconds: Double
    public var mseSum: Double
    public var ssimSum: Double
    public var frames: Int
    /// Segments the rendition has in this package (or part of one).
    public var segmentCount: Int

    enum CodingKeys: String, CodingKey {
        case rendition, codec, width, height, segment, frames
        case startSeconds = "start_s", mseSum = "mse_sum", ssimSum = "ssim_sum", segmentCount = "segment_count"
    }

    /// Luma PSNR from the mean MSE, as ffmpeg's psnr filter averages (capped: identical
    /// pictures have no finite PSNR).
    static func psnr(meanSquaredError mse: Double) -> Double {
        mse > 0 ? min(100, 10 * log10(255 * 255 / mse)) : 100
    }

    public var psnrY: Double { Self.psnr(meanSquaredError: mseSum / Double(max(frames, 1))) }
    public var ssimY: Double { ssimSum / Double(max(frames, 1)) }
}

/// The quality report of a package: each video rendition against the source scaled to its size.
public struct QualityReport: Sendable, Equatable {
    public struct Rendition: Sendable, Equatable {
        public var rendition: String
        public var codec: VideoCodec
        public var width: Int
        public var height: Int
        public var psnrY: Double
        public var ssimY: Double
        public var frames: Int
        public var segmentsMeasured: Int
        public var segmentCount: Int
        public var worst: SegmentQuality
    }

    public var sample: Double
    public var renditions: [Rendition]

    /// Sums the measured segments per rendition (in the order they first appear). `segmentCounts`:
    /// each rendition's segments in the whole package (a split job's parts know only their own).
    public init(sample: Double, segments: [SegmentQuality], segmentCounts: [String: Int] = [:]) {
        self.sample = sample
        var order: [String] = []
        var byRendition: [String: [SegmentQuality]] = [:]
        for segment in segments where segment.frames > 0 {
            if byRendition[segment.rendition] == nil { order.append(segment.rendition) }
            byRendition[segment.rendition, default: []].append(segment)
        }
        renditions = order.compactMap { name in
            guard let measured = byRendition[name], let worst = measured.min(by: { $0.psnrY < $1.psnrY }) else { return nil }
            let frames = measured.reduce(0) { $0 + $1.frames }
            let mse = measured.reduce(0) { $0 + $1.mseSum } / Double(frames)
            let segmentCount = segmentCounts[name] ?? measured.map(\.segmentCount).max() ?? measured.count
            return Rendition(rendition: name, codec: worst.codec, width: worst.width, height: worst.height,
                             psnrY: SegmentQuality.psnr(meanSquaredError: mse), ssimY: measured.reduce(0) { $0 + $1.ssimSum } / Double(frames),
                             frames: frames, segmentsMeasured: measured.count, segmentCount: segmentCount, worst: worst)
        }
    }

    /// The event's `quality`; `segmentURL` says where a rendition's worst segment is published.
    public func json(segmentURL: (Rendition) -> String) -> JSONValue {
        .object(["sample": .double(sample), "renditions": .array(renditions.map { $0.json(worstURL: segmentURL($0)) })])
    }
}

extension QualityReport.Rendition {
    static func rounded(_ value: Double, places: Double) -> JSONValue { .double((value * places).rounded() / places) }

    func json(worstURL: String) -> JSONValue {
        let worstSegment: [String: JSONValue] = [
            "uri": .string(worstURL),
            "start_s": Self.rounded(worst.startSeconds, places: 1000),
            "psnr_y": Self.rounded(worst.psnrY, places: 1000),
            "ssim_y": Self.rounded(worst.ssimY, places: 100_000),
        ]
        var fields: [String: JSONValue] = [:]
        fields["rendition"] = .string(rendition)
        fields["codec"] = .string(codec.rawValue)
        fields["resolution"] = .string("\(width)x\(height)")
        fields["psnr_y"] = Self.rounded(psnrY, places: 1000)
        fields["ssim_y"] = Self.rounded(ssimY, places: 100_000)
        fields["frames"] = .integer(frames)
        fields["segments_measured"] = .integer(segmentsMeasured)
        fields["segments"] = .integer(segmentCount)
        fields["worst_segment"] = .object(worstSegment)
        return .object(fields)
    }
}

/// Measures a package's video renditions against their source, in the shim.
public enum QualityMeter {
    /// `count` segments' indices, `fraction` of them (at least one) spread evenly over the video.
    public static func sampledSegments(count: Int, fraction: Double) -> [Int] {
        guard count > 0, fraction > 0 else { return [] }
        let wanted = fraction >= 1 ? count : min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
        return (0..<wanted).map { min(count - 1, Int((Double($0) + 0.5) * Double(count) / Double(wanted))) }
    }

    /// The segments of a media playlist with their start times, the first starting at `firstStart`.
    static func segments(ofPlaylist text: String, firstStart: Double) -> [(name: String, start: Double, end: Double)] {
        var result: [(name: String, start: Double, end: Double)] = []
        var at = firstStart
        for segment in HLSMediaPlaylist(parsing: text).segments {
            result.append((segment.uri, at, at + segment.duration))
            at += segment.duration
        }
        return result
    }

    /// Measures `fraction` of the segments of every encoded video rendition of the package in
    /// `directory` (all renditions share their segment boundaries, so the same segments of each).
    /// Each is compared at its own size, or at `compareAt` (scaled up to it, as a player shows a
    /// small rung full screen: what makes renditions of different sizes comparable). `psnrOnly`:
    /// no SSIM (its sums stay 0), where PSNR alone is read.
    public static func measure(
        input: String, directory: String, renditions: [HLSRendition], fraction: Double, settings: EncodeSettings,
        timelineOffset: Double, firstStart: Double = 0, compareAt: (width: Int, height: Int)? = nil, psnrOnly: Bool = false,
        limits: MediaLimits
    ) async throws(MediaError) -> [SegmentQuality] {
        let video = renditions.filter { $0.kind == .video && $0.width != nil && $0.height != nil }
        guard let first = video.first, fraction > 0, video.count < Int(MW_MAX_RENDITIONS) else { return [] }
        guard let playlist = try? String(contentsOfFile: directory + "/" + first.playlist, encoding: .utf8) else {
            throw MediaError(code: .internal, message: "cannot read \(first.playlist) to measure it")
        }
        let all = segments(ofPlaylist: playlist, firstStart: firstStart)
        let chosen = sampledSegments(count: all.count, fraction: fraction).map { all[$0] }
        guard !chosen.isEmpty else { return [] }
        let fmp4 = FileManager.default.fileExists(atPath: directory + "/" + folder(of: first) + "/init.mp4")
        let targets = video.map { rendition in
            var target = mw_quality_target()
            withUnsafeMutableBytes(of: &target.folder) { buffer in
                let bytes = Array(folder(of: rendition).utf8.prefix(buffer.count - 1))
                buffer.copyBytes(from: bytes + [0])
            }
            target.width = Int32(compareAt?.width ?? rendition.width ?? 0)
            target.height = Int32(compareAt?.height ?? rendition.height ?? 0)
            return target
        }
        let shimSegments = chosen.map { segment in
            var value = mw_quality_segment()
            withUnsafeMutableBytes(of: &value.name) { buffer in
                buffer.copyBytes(from: Array(segment.name.utf8.prefix(buffer.count - 1)) + [0])
            }
            value.start_s = segment.start
            value.end_s = segment.end
            return value
        }
        let collector = try await ShimCall.run(QualityCollector(progress: nil)) { [targets, shimSegments] collector, token, message in
            var shimLimits = limits.shimValue
            collector.samples = Array(repeating: mw_quality_sample(), count: targets.count * shimSegments.count)
            return targets.withUnsafeBufferPointer { targetBuffer in
                shimSegments.withUnsafeBufferPointer { segmentBuffer in
                    collector.samples.withUnsafeMutableBufferPointer { samples in
                        mw_measure_quality(input, directory, targetBuffer.baseAddress, Int32(targetBuffer.count), segmentBuffer.baseAddress,
                                           Int32(segmentBuffer.count), settings.maxFPS ?? 0, timelineOffset, fmp4 ? 1 : 0, psnrOnly ? 1 : 0, &shimLimits,
                                           token.raw, samples.baseAddress, message, 512)
                    }
                }
            }
        }
        var result: [SegmentQuality] = []
        for (index, rendition) in video.enumerated() {
            for (number, segment) in chosen.enumerated() {
                let sample = collector.samples[index * chosen.count + number]
                result.append(SegmentQuality(rendition: folder(of: rendition), codec: rendition.codec ?? .h264, width: rendition.width ?? 0,
                                             height: rendition.height ?? 0, segment: segment.name, startSeconds: segment.start,
                                             mseSum: sample.mse_y_sum, ssimSum: sample.ssim_y_sum, frames: Int(sample.frames),
                                             segmentCount: all.count))
            }
        }
        return result
    }

    static func folder(of rendition: HLSRendition) -> String {
        String(rendition.playlist.split(separator: "/").first ?? "")
    }
}

/// Holds the shim's per-segment sums.
final class QualityCollector: ShimCallbacks, @unchecked Sendable {
    var samples: [mw_quality_sample] = []
}
