import CFFmpegShim
import Foundation
import JobContract

/// One encode of the title's samples: a size at a CRF, its bit rate and luma PSNR.
public struct RateQualityPoint: Sendable, Equatable {
    public var codec: VideoCodec
    /// The box of the fixed ladder it was encoded in, and the picture it made.
    public var box: VideoRung
    public var width: Int
    public var height: Int
    public var crf: Double
    public var bitrate: Double
    public var psnrY: Double
    public var onHull = false
}

/// A rung of a per-title ladder and why it was chosen.
public struct ChosenRung: Sendable, Equatable {
    public var rung: VideoRung
    public var width: Int
    public var height: Int
    public var predictedBitrate: Double
    public var predictedPSNR: Double
    public var reason: String
}

/// What a per-title analysis found and chose, as `TranscodeCompleted` reports it.
public struct LadderChoice: Sendable, Equatable {
    public var targetPSNR: [VideoCodec: Double]
    public var targetFromOptions: Bool
    public var samples: [(start: Double, duration: Double)]
    public var points: [RateQualityPoint]
    /// The fixed ladder's top rung on the same samples, per codec.
    public var fixedTops: [VideoCodec: RateQualityPoint]
    public var chosen: [ChosenRung]
    public var probeSeconds: Double

    public var rungs: [VideoRung] { chosen.map(\.rung) }

    public static func == (lhs: LadderChoice, rhs: LadderChoice) -> Bool {
        lhs.chosen == rhs.chosen && lhs.points == rhs.points && lhs.probeSeconds == rhs.probeSeconds
    }

    public var json: JSONValue {
        func round(_ value: Double, _ places: Double = 1000) -> JSONValue { .double((value * places).rounded() / places) }
        var fields: [String: JSONValue] = [:]
        fields["mode"] = .string("per_title")
        if let h264 = targetPSNR[.h264] { fields["target_psnr"] = round(h264) }
        fields["target_psnr_by_codec"] = .object(Dictionary(uniqueKeysWithValues: targetPSNR.map { ($0.key.rawValue, round($0.value)) }))
        fields["target_from"] = .string(targetFromOptions ? "options.target_psnr" : "the fixed ladder's top rung, encoded on the same samples")
        fields["fixed_top"] = .object(Dictionary(uniqueKeysWithValues: fixedTops.map { codec, point in
            (codec.rawValue, .object(["resolution": .string("\(point.width)x\(point.height)"), "bitrate": .integer(Int(point.bitrate.rounded())),
                                      "psnr_y": round(point.psnrY)]))
        }))
        fields["compared_at"] = .string("every point scaled to the largest picture (bicubic) and compared with the source at that size")
        fields["samples"] = .array(samples.map { .object(["start_s": round($0.start), "duration_s": round($0.duration)]) })
        fields["probe_s"] = round(probeSeconds)
        fields["points"] = .array(points.map { point in
            var item: [String: JSONValue] = [:]
            item["codec"] = .string(point.codec.rawValue)
            item["resolution"] = .string("\(point.width)x\(point.height)")
            item["crf"] = round(point.crf, 100)
            item["bitrate"] = .integer(Int(point.bitrate.rounded()))
            item["psnr_y"] = round(point.psnrY)
            item["on_hull"] = .bool(point.onHull)
            return .object(item)
        })
        fields["rungs"] = .array(chosen.map { chosen in
            var item: [String: JSONValue] = [:]
            item["codec"] = .string(chosen.rung.codec.rawValue)
            item["max_width"] = .integer(chosen.rung.maxWidth)
            item["max_height"] = .integer(chosen.rung.maxHeight)
            item["resolution"] = .string("\(chosen.width)x\(chosen.height)")
            item["crf"] = round(chosen.rung.crf ?? 0, 100)
            item["max_bitrate"] = .integer(chosen.rung.maxBitrate ?? 0)
            item["predicted_bitrate"] = .integer(Int(chosen.predictedBitrate.rounded()))
            item["predicted_psnr"] = round(chosen.predictedPSNR)
            item["reason"] = .string(chosen.reason)
            return .object(item)
        })
        return .object(fields)
    }
}

/// Per-title ladders: short samples of the title encoded at a few CRFs in every size of the
/// fixed ladder that the source reaches; the rungs are read off the measured rate-quality curves.
public enum PerTitleLadder {
    /// Each rung about this many times the bit rate of the one below (1.5–2× is the usual spacing).
    public static let step = 1.75
    /// Below this a rung helps no player (any connection carries the rung above it).
    public static let minimumBitrate = 100_000.0
    public static let maxRungs = 6
    /// Samples last one keyframe interval, as many GOPs of the real encode do.
    static let sampleSeconds = 2.0

    /// CRFs tried per size: the codec's default and 6 either side (about ×2 and ×0.5 its rate).
    /// Two points a size were tried and missed the top rung's target by 0.2–0.4 dB: PSNR is not
    /// linear in log rate between them (on a still slide it is convex), the middle point pins it.
    public static func crfs(_ codec: VideoCodec) -> [Double] {
        let center = mw_default_crf(Int32(codec.shimCodec.rawValue))
        return [center - 6, center, center + 6]
    }

    /// Sample windows: whole multiples of the sample length spread over the title, about 5 %
    /// of it, two at least (one for a title shorter than two samples).
    public static func samples(duration: Double) -> [(start: Double, duration: Double)] {
        let length = sampleSeconds
        let available = max(1, Int((duration / length).rounded(.down)))
        let wanted = min(available, max(2, Int((duration * 0.05 / length).rounded())))
        let slots = (0..<wanted).map { min(available - 1, Int((Double($0) + 0.5) * Double(available) / Double(wanted))) }
        return Array(Set(slots)).sorted().map { (Double($0) * length, min(length, max(0.5, duration - Double($0) * length))) }
    }

    /// Encodes the samples in every box × CRF of `codec`, and as the fixed ladder's top rung
    /// (capped, at the default CRF), and measures them all at the largest picture's size.
    /// Returns the CRF points and the fixed top rung's point.
    public static func measure(
        input: String, boxes: [VideoRung], codec: VideoCodec, samples: [(start: Double, duration: Double)], settings: EncodeSettings,
        workDirectory: String, limits: MediaLimits
    ) async throws(MediaError) -> (points: [RateQualityPoint], fixedTop: RateQualityPoint?) {
        guard let top = boxes.max(by: { $0.maxWidth * $0.maxHeight < $1.maxWidth * $1.maxHeight }) else { return ([], nil) }
        let candidates = boxes.flatMap { box in
            crfs(codec).map { crf in
                VideoRung(maxWidth: box.maxWidth, maxHeight: box.maxHeight, crf: crf, codec: codec)
            }
        } + [top.encoded(with: codec)]
        var bits = [Double](repeating: 0, count: candidates.count), seconds = bits
        var measured: [SegmentQuality] = []
        var sizes: [(width: Int, height: Int)] = Array(repeating: (0, 0), count: candidates.count)
        var folders = [String](repeating: "", count: candidates.count)
        for (number, sample) in samples.enumerated() {
            var hls = HLSSettings()
            hls.packaging = .encode
            hls.targetDurationSeconds = sampleSeconds
            hls.part = .videoRange(start: sample.start, end: sample.start + sample.duration)
            let directory = workDirectory + "/sample-\(number)"
            let package = try await HLSPackager.package(input: input, outputDirectory: directory, rungs: candidates, settings: settings,
                                                        hls: hls, limits: limits)
            let video = package.renditions.filter { $0.kind == .video }
            guard video.count == candidates.count else {
                throw MediaError(code: .internal, message: "a sample made \(video.count) renditions for \(candidates.count) candidates")
            }
            for (index, rendition) in video.enumerated() {
                bits[index] += Double(rendition.averageBitrate) * rendition.durationSeconds
                seconds[index] += rendition.durationSeconds
                sizes[index] = (rendition.width ?? 0, rendition.height ?? 0)
                folders[index] = QualityMeter.folder(of: rendition)
            }
            let largest = video.max { ($0.width ?? 0) * ($0.height ?? 0) < ($1.width ?? 0) * ($1.height ?? 0) }
            measured += try await QualityMeter.measure(
                input: input, directory: directory, renditions: package.renditions, fraction: 1, settings: settings,
                timelineOffset: package.timelineOffsetSeconds, firstStart: sample.start,
                compareAt: largest.map { ($0.width ?? 0, $0.height ?? 0) }, psnrOnly: true, limits: limits)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let report = QualityReport(sample: 1, segments: measured)
        let points: [RateQualityPoint] = candidates.enumerated().compactMap { index, candidate in
            guard seconds[index] > 0, let quality = report.renditions.first(where: { $0.rendition == folders[index] }) else { return nil }
            return RateQualityPoint(codec: codec, box: candidate, width: sizes[index].width, height: sizes[index].height,
                                    crf: candidate.crf ?? crfs(codec)[1], bitrate: bits[index] / seconds[index], psnrY: quality.psnrY)
        }
        // The last candidate is the fixed top rung (capped): not a point of a CRF curve.
        let fixedTop = points.last { $0.box.maxBitrate != nil }
        return (points.filter { $0.box.maxBitrate == nil }, fixedTop)
    }

    /// The rate-quality curve of one size: PSNR and CRF at a bit rate, interpolated in log rate
    /// between measured points (nil outside them).
    struct Curve {
        var points: [RateQualityPoint]   // ascending bit rate

        var lowest: Double { points.first?.bitrate ?? .infinity }
        var highest: Double { points.last?.bitrate ?? 0 }

        func at(_ bitrate: Double) -> (psnr: Double, crf: Double)? {
            guard let first = points.first, bitrate >= first.bitrate * 0.999, bitrate <= highest * 1.001 else { return nil }
            if points.count == 1 { return (first.psnrY, first.crf) }
            for (low, high) in zip(points, points.dropFirst()) where bitrate <= high.bitrate * 1.001 {
                let span = log(high.bitrate) - log(low.bitrate)
                let t = span > 0 ? min(1, max(0, (log(bitrate) - log(low.bitrate)) / span)) : 0
                return (low.psnrY + t * (high.psnrY - low.psnrY), low.crf + t * (high.crf - low.crf))
            }
            return (points[points.count - 1].psnrY, points[points.count - 1].crf)
        }
    }

    /// Marks the points on the upper convex hull of (log rate, PSNR) over every size.
    static func markHull(_ points: inout [RateQualityPoint]) {
        let order = points.indices.sorted { points[$0].bitrate < points[$1].bitrate }
        var hull: [Int] = []
        for index in order {
            // Keep only points that raise the quality as the rate grows, turning clockwise.
            if let last = hull.last, points[index].psnrY <= points[last].psnrY { continue }
            while hull.count >= 2 {
                let a = points[hull[hull.count - 2]], b = points[hull[hull.count - 1]], c = points[index]
                let cross = (log(b.bitrate) - log(a.bitrate)) * (c.psnrY - a.psnrY) - (b.psnrY - a.psnrY) * (log(c.bitrate) - log(a.bitrate))
                if cross >= 0 { hull.removeLast() } else { break }
            }
            hull.append(index)
        }
        for index in points.indices { points[index].onHull = hull.contains(index) }
    }

    /// Chooses one codec's rungs from its points: the top one the lowest bit rate whose best size
    /// reaches `target` (or the best point when none does), then every `step`× lower while a size
    /// was measured that low and the rate stays above `minimumBitrate`. Sizes never grow going down.
    static func choose(_ points: [RateQualityPoint], target: Double) -> [ChosenRung] {
        let byBox = Dictionary(grouping: points) { "\($0.box.maxWidth)x\($0.box.maxHeight)" }
        let curves = byBox.values.map { Curve(points: $0.sorted { $0.bitrate < $1.bitrate }) }
            .sorted { $0.points[0].box.maxWidth * $0.points[0].box.maxHeight > $1.points[0].box.maxWidth * $1.points[0].box.maxHeight }
        guard let lowest = curves.map(\.lowest).min(), let highest = curves.map(\.highest).max(), lowest > 0 else { return [] }

        /// The best size at a bit rate, among those no larger than `limit` (an area).
        func best(at bitrate: Double, areaAtMost limit: Int) -> (curve: Curve, psnr: Double, crf: Double)? {
            var found: (curve: Curve, psnr: Double, crf: Double)?
            for curve in curves {
                let box = curve.points[0]
                guard box.width * box.height <= limit, let value = curve.at(bitrate) else { continue }
                if found == nil || value.psnr > found!.psnr { found = (curve, value.psnr, value.crf) }
            }
            return found
        }

        var chosen: [ChosenRung] = []
        // The top: scan up the rates on a fine log grid for the first that reaches the target.
        var top: (bitrate: Double, curve: Curve, psnr: Double, crf: Double)?
        let steps = 400
        for index in 0...steps {
            let bitrate = exp(log(lowest) + (log(highest) - log(lowest)) * Double(index) / Double(steps))
            if let value = best(at: bitrate, areaAtMost: .max), value.psnr >= target {
                top = (bitrate, value.curve, value.psnr, value.crf)
                break
            }
        }
        var reason = String(format: "top: the lowest bit rate reaching %.2f dB", target)
        if top == nil, let bestPoint = points.max(by: { $0.psnrY < $1.psnrY }),
           let curve = curves.first(where: { $0.points.contains(bestPoint) }) {
            top = (bestPoint.bitrate, curve, bestPoint.psnrY, bestPoint.crf)
            reason = String(format: "top: %.2f dB is out of reach, the best point measured", target)
        }
        guard var current = top else { return [] }
        while chosen.count < maxRungs {
            let box = current.curve.points[0]
            let crf = (current.crf * 10).rounded() / 10
            // Capped like the fixed ladder, at twice the rate the samples predict: a scene far
            // harder than the samples cannot make the rung's peak lie about BANDWIDTH.
            let cap = Int((current.bitrate * 2).rounded())
            chosen.append(ChosenRung(rung: VideoRung(maxWidth: box.box.maxWidth, maxHeight: box.box.maxHeight, maxBitrate: cap, crf: crf,
                                                     codec: box.codec),
                                     width: box.width, height: box.height, predictedBitrate: current.bitrate, predictedPSNR: current.psnr,
                                     reason: reason))
            let next = current.bitrate / step
            guard next >= minimumBitrate, let value = best(at: next, areaAtMost: box.width * box.height) else { break }
            current = (next, value.curve, value.psnr, value.crf)
            reason = String(format: "%.2f× below the rung above; the best size at that rate", step)
        }
        return chosen.reversed()
    }

    /// The whole analysis for every codec of the job.
    public static func plan(
        input: String, info: MediaInfo, boxes: [VideoRung], codecs: [VideoCodec], targetPSNR: Double?, settings: EncodeSettings,
        workDirectory: String, limits: MediaLimits
    ) async throws(MediaError) -> LadderChoice {
        let started = ContinuousClock.now
        let duration = info.durationSeconds ?? 0
        guard duration > 0, !boxes.isEmpty else {
            throw MediaError(code: .invalidArgument, message: "a per-title ladder needs a video of known duration")
        }
        let windows = samples(duration: duration)
        var points: [RateQualityPoint] = []
        var chosen: [ChosenRung] = []
        var targets: [VideoCodec: Double] = [:]
        var fixedTops: [VideoCodec: RateQualityPoint] = [:]
        for codec in codecs.sorted() {
            var (measured, fixedTop) = try await measure(input: input, boxes: boxes, codec: codec, samples: windows, settings: settings,
                                                         workDirectory: workDirectory, limits: limits)
            markHull(&measured)
            // Without a target: the quality the fixed ladder's top rung has on the same samples.
            guard let target = targetPSNR ?? fixedTop?.psnrY, !measured.isEmpty else {
                throw MediaError(code: .internal, message: "the samples gave no measurable point")
            }
            if let fixedTop { fixedTops[codec] = fixedTop }
            targets[codec] = target
            chosen += choose(measured, target: target)
            points += measured
        }
        try? FileManager.default.removeItem(atPath: workDirectory)
        return LadderChoice(targetPSNR: targets, targetFromOptions: targetPSNR != nil, samples: windows, points: points, fixedTops: fixedTops,
                            chosen: chosen, probeSeconds: (ContinuousClock.now - started).seconds)
    }
}

extension VideoCodec {
    var shimCodec: mw_video_codec {
        switch self {
        case .h264: MW_CODEC_H264
        case .hevc: MW_CODEC_HEVC
        case .av1: MW_CODEC_AV1
        }
    }
}
