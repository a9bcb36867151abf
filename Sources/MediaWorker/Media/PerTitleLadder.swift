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
    /// What the fixed ladder would spend on the same samples (its rungs, capped), per codec's rungs.
    public var fixedPredicted: [ChosenRung] = []
    /// Per codec: whether the per-title rungs were kept or the fixed ladder was (see `PerTitleLadder.decide`).
    public var decisions: [VideoCodec: PerTitleLadder.Decision] = [:]
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
        if let h264 = decisions[.h264] ?? decisions.values.first { fields["decision"] = .string(h264.rawValue) }
        fields["decision_by_codec"] = .object(Dictionary(uniqueKeysWithValues: decisions.map { ($0.key.rawValue, .string($0.value.rawValue)) }))
        let predictedTotal = PerTitleLadder.total(chosen), fixedTotal = PerTitleLadder.total(fixedPredicted)
        fields["predicted_bitrate_total"] = .integer(Int(predictedTotal.rounded()))
        if fixedTotal > 0 { fields["fixed_predicted_bitrate_total"] = .integer(Int(fixedTotal.rounded())) }
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
    /// Each rung about this many times the bit rate of the one below (1.5–2× is the usual spacing;
    /// 2.0 was tried on the quality benchmark: 0.706 of the fixed ladder's bytes, 0.704 at 1.75).
    public static let step = 1.75
    /// Below this a rung helps no player (any connection carries the rung above it).
    public static let minimumBitrate = 100_000.0
    public static let maxRungs = 6
    /// The least step down a rung taken from a measured point (no curve reaching the next step) must be.
    static let lowestStep = 1.3
    /// Samples last one keyframe interval, as many GOPs of the real encode do.
    static let sampleSeconds = 2.0

    /// CRFs tried per size: the codec's default and 6 above it (about half its rate). The top
    /// size also 6 below (about twice the rate) when the job names its own target: a target taken
    /// from the fixed top rung (the default CRF, capped) is never above the default CRF's point,
    /// and lower rungs sit at or below the default CRF's rate of their size. With two points a size
    /// (PSNR close to linear in log rate over 6 CRF steps) the top rungs of the quality benchmark's
    /// nine sources came out 0.0 to 0.14 dB above the fixed top rungs, judged over the whole title.
    public static func crfs(_ codec: VideoCodec, top: Bool = true, targetGiven: Bool = true) -> [Double] {
        let center = mw_default_crf(Int32(codec.shimCodec.rawValue))
        return top && targetGiven ? [center - 6, center, center + 6] : [center, center + 6]
    }

    /// Sample windows: spread over the title at whole multiples of the sample length, about 5 %
    /// of it, two at least (one for a title shorter than two samples). With the source's keyframe
    /// times, each window starts `keyframeLead` after the last keyframe at least that long before
    /// its place (moving back by less than a GOP): the sample's encode then decodes about a second
    /// before the window and no more. On a 60 s noise title whose keyframes fall at scene cuts, a
    /// window 0.9 s after a keyframe made the encode seek a second back to the keyframe 9 s earlier:
    /// 9 s decoded to encode 2 (2.5 s of a 12 s analysis).
    public static func samples(duration: Double, keyframes: [Double] = []) -> [(start: Double, duration: Double)] {
        let length = sampleSeconds
        let available = max(1, Int((duration / length).rounded(.down)))
        let wanted = min(available, max(2, Int((duration * 0.05 / length).rounded())))
        let slots = Array(Set((0..<wanted).map { min(available - 1, Int((Double($0) + 0.5) * Double(available) / Double(wanted))) })).sorted()
        // Decode times: with B-frames the first keyframe's is a frame or two before zero.
        let keys = keyframes.map { max(0, $0) }.sorted()
        var starts: [Double] = []
        for place in slots.map({ Double($0) * length }) {
            var start = place
            if place >= keyframeLead, let key = keys.last(where: { $0 <= place - keyframeLead }) {
                // Tenths of a second, rounded up (less a hair of floating-point error): the lead stays at least `keyframeLead`.
                start = ((key + keyframeLead) * 10 - 1e-6).rounded(.up) / 10
            }
            // Windows never overlap: where a GOP longer than the spacing would put two on one keyframe, the later stays in place.
            if let last = starts.last, start < last + length { start = place }
            if starts.last.map({ start >= $0 + length }) ?? true { starts.append(start) }
        }
        return starts.map { ($0, min(length, max(0.5, duration - $0))) }
    }

    /// How far after a keyframe (its decode time, as indexes list it) a sample starts: the sample's
    /// encode seeks a second before its range (mw_transcode.c, so a B-frame shown before the range's
    /// first frame cannot hide it) and must land on that keyframe.
    static let keyframeLead = 1.1

    /// The source's keyframe times from its container's index (none for MPEG-TS, or on any failure:
    /// the samples then stay where they are).
    static func keyframes(input: String, limits: MediaLimits) async -> [Double] {
        final class Found: ShimCallbacks, @unchecked Sendable { var times: [Double] = [] }
        let found = try? await ShimCall.run(Found(progress: nil)) { found, token, message in
            var shimLimits = limits.shimValue
            var times = [Double](repeating: 0, count: 100_000), count: Int32 = 0
            let status = times.withUnsafeMutableBufferPointer {
                mw_keyframe_times(input, &shimLimits, token.raw, $0.baseAddress, Int32($0.count), &count, message, 512)
            }
            found.times = Array(times.prefix(Int(count)))
            return status
        }
        return found?.times ?? []
    }

    /// Encodes the samples in every box × CRF of `codec`, and as the fixed ladder's top rung
    /// (capped, at the default CRF), each judged in the same pass at the largest picture's size.
    /// Returns the CRF points and the fixed top rung's point.
    public static func measure(
        input: String, boxes: [VideoRung], codec: VideoCodec, samples: [(start: Double, duration: Double)], settings: EncodeSettings,
        targetGiven: Bool = true, workDirectory: String, limits: MediaLimits
    ) async throws(MediaError) -> (points: [RateQualityPoint], fixedTop: RateQualityPoint?) {
        guard let top = boxes.max(by: { $0.maxWidth * $0.maxHeight < $1.maxWidth * $1.maxHeight }) else { return ([], nil) }
        let candidates = boxes.flatMap { box in
            crfs(codec, top: box == top, targetGiven: targetGiven).map { crf in
                VideoRung(maxWidth: box.maxWidth, maxHeight: box.maxHeight, crf: crf, codec: codec)
            }
        } + [top.encoded(with: codec)]
        var bits = [Double](repeating: 0, count: candidates.count), seconds = bits
        var squaredErrors = bits, frames = [Int](repeating: 0, count: candidates.count)
        var sizes: [(width: Int, height: Int)] = Array(repeating: (0, 0), count: candidates.count)
        for (number, sample) in samples.enumerated() {
            var hls = HLSSettings()
            hls.packaging = .encode
            hls.targetDurationSeconds = sampleSeconds
            hls.part = .videoSample(start: sample.start, end: sample.start + sample.duration)
            // Measured as it is encoded: each candidate decoded again in its own thread and compared
            // with the frames the encode was given, at the largest candidate's size. Measuring the
            // written samples afterwards decoded the source twice more (once per measuring thread):
            // a third of the analysis on the noise source.
            hls.judgePSNR = true
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
                squaredErrors[index] += rendition.judgedMSESum
                frames[index] += rendition.judgedFrames
                sizes[index] = (rendition.width ?? 0, rendition.height ?? 0)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
        let points: [RateQualityPoint] = candidates.enumerated().compactMap { index, candidate in
            guard seconds[index] > 0, frames[index] > 0 else { return nil }
            return RateQualityPoint(codec: codec, box: candidate, width: sizes[index].width, height: sizes[index].height,
                                    crf: candidate.crf ?? mw_default_crf(Int32(codec.shimCodec.rawValue)), bitrate: bits[index] / seconds[index],
                                    psnrY: SegmentQuality.psnr(meanSquaredError: squaredErrors[index] / Double(frames[index])))
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

    /// Whether a codec's rungs came from its curves or the fixed ladder was kept.
    public enum Decision: String, Sendable, Equatable {
        case perTitle = "per_title"
        case fixed
    }

    /// The top rung aims this far above the target: the samples predict the title within a few
    /// tenths of a dB, and the promise is the fixed top rung's quality (0.3 dB at most under it).
    /// A size whose curve cannot reach that takes the lowest rate reaching the target itself.
    public static let topMargin = 0.1
    /// A per-title ladder is kept only when the samples predict it spends at most this share of the
    /// fixed ladder's bytes; otherwise the fixed ladder is kept (a saving smaller than the
    /// samples' error could turn into more bytes on the whole title).
    public static let keepShare = 0.9

    /// Chooses one codec's rungs from its points: the top one on the largest size, at the lowest
    /// bit rate reaching `target` (+ `topMargin`; the best point of that size when none does), then
    /// every `step`× lower on the best size at that rate while one was measured that low and the
    /// rate stays above `minimumBitrate`. Sizes never grow going down. The top keeps the largest
    /// size because a smaller picture scaled up can match its PSNR on samples and still lose the
    /// edges of text the samples missed (a text slide came out 4.6 dB under the fixed top that way).
    static func choose(_ points: [RateQualityPoint], target: Double, fixedBoxes: [VideoRung] = []) -> [ChosenRung] {
        let byBox = Dictionary(grouping: points) { "\($0.box.maxWidth)x\($0.box.maxHeight)" }
        let curves = byBox.values.map { Curve(points: $0.sorted { $0.bitrate < $1.bitrate }) }
            .sorted { $0.points[0].box.maxWidth * $0.points[0].box.maxHeight > $1.points[0].box.maxWidth * $1.points[0].box.maxHeight }
        guard let largest = curves.first, largest.lowest > 0 else { return [] }

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
        // The top: scan up the largest size's rates on a fine log grid for the first that reaches
        // the aim; when the size cannot reach it (the target is the default CRF's own point, as on
        // an uncapped title, or the curve flattens), the first that reaches the target itself.
        func lowest(reaching aim: Double) -> (bitrate: Double, curve: Curve, psnr: Double, crf: Double)? {
            let steps = 400
            for index in 0...steps {
                let bitrate = exp(log(largest.lowest) + (log(largest.highest) - log(largest.lowest)) * Double(index) / Double(steps))
                if let value = largest.at(bitrate), value.psnr >= aim { return (bitrate, largest, value.psnr, value.crf) }
            }
            return nil
        }
        var top = lowest(reaching: target + topMargin)
        var reason = String(format: "top: the lowest bit rate of the largest size reaching %.2f dB (the target + %.1f)", target + topMargin, topMargin)
        // 0.02 dB: the fixed top rung and the default CRF's point are one encode but for the cap.
        if top == nil, let reaching = lowest(reaching: target - 0.02) {
            top = reaching
            reason = String(format: "top: the lowest bit rate of the largest size reaching %.2f dB (the target)", target)
        }
        if top == nil, let bestPoint = largest.points.max(by: { $0.psnrY < $1.psnrY }) {
            top = (bestPoint.bitrate, largest, bestPoint.psnrY, bestPoint.crf)
            reason = String(format: "top: %.2f dB is out of reach, the best point of the largest size", target)
        }
        guard var current = top else { return [] }
        while chosen.count < maxRungs {
            let box = current.curve.points[0]
            let crf = (current.crf * 10).rounded() / 10
            // Capped like the fixed ladder, at twice the rate the samples predict: a scene far
            // harder than the samples cannot make the rung's peak lie about BANDWIDTH. Never under
            // the fixed ladder's cap for the size: twice the average is too tight where a title's
            // bytes sit in rare frames (each new text slide is one large keyframe and then nothing;
            // held to it, those frames came out 4 dB worse than the fixed rung).
            let fixedCap = fixedBoxes.first { $0.maxWidth == box.box.maxWidth && $0.maxHeight == box.box.maxHeight }?.maxBitrate ?? 0
            let cap = max(Int((current.bitrate * 2).rounded()), fixedCap)
            chosen.append(ChosenRung(rung: VideoRung(maxWidth: box.box.maxWidth, maxHeight: box.box.maxHeight, maxBitrate: cap, crf: crf,
                                                     codec: box.codec),
                                     width: box.width, height: box.height, predictedBitrate: current.bitrate, predictedPSNR: current.psnr,
                                     reason: reason))
            let next = current.bitrate / step
            guard next >= minimumBitrate else { break }
            if let value = best(at: next, areaAtMost: box.width * box.height) {
                current = (next, value.curve, value.psnr, value.crf)
                reason = String(format: "%.2f× below the rung above; the best size at that rate", step)
                continue
            }
            // No size was measured that low: the cheapest measured point above the floor, when it is
            // still a real step down (a ladder without a low rung leaves a slow connection nothing to
            // play). The cheapest, not the one nearest the step: every rung between costs bytes on
            // every title (nearest-and-continue spent 0.78 of the fixed ladder's bytes on the quality
            // benchmark, this 0.76).
            guard let cheapest = curves.filter({ $0.points[0].width * $0.points[0].height <= box.width * box.height })
                .flatMap(\.points)
                .filter({ $0.bitrate >= minimumBitrate && $0.bitrate * lowestStep <= current.bitrate })
                .min(by: { $0.bitrate < $1.bitrate }),
                  let curve = curves.first(where: { $0.points.contains(cheapest) }) else { break }
            current = (cheapest.bitrate, curve, cheapest.psnrY, cheapest.crf)
            reason = "the cheapest point measured above 100 kb/s: no size was measured as low as the next step"
        }
        return chosen.reversed()
    }

    /// The fixed ladder as the samples predict it, ascending: its top rung as encoded on the
    /// samples (capped), each lower rung at the default CRF's point of its size, held to its cap
    /// (at the share of the cap the top rung reached when its cap bound, else the cap).
    static func predictFixed(_ points: [RateQualityPoint], boxes: [VideoRung], fixedTop: RateQualityPoint?, codec: VideoCodec) -> [ChosenRung] {
        let center = mw_default_crf(Int32(codec.shimCodec.rawValue))
        let ordered = boxes.sorted { $0.maxWidth * $0.maxHeight < $1.maxWidth * $1.maxHeight }
        guard let top = ordered.last else { return [] }
        func same(_ a: VideoRung, _ b: VideoRung) -> Bool { a.maxWidth == b.maxWidth && a.maxHeight == b.maxHeight }
        var capShare = 1.0
        if let fixedTop, let cap = top.maxBitrate, let open = points.first(where: { same($0.box, top) && $0.crf == center }),
           fixedTop.bitrate < open.bitrate * 0.95 {
            capShare = min(1, fixedTop.bitrate / Double(cap))
        }
        return ordered.compactMap { box in
            let rung = box.encoded(with: codec)
            if same(box, top), let fixedTop {
                return ChosenRung(rung: rung, width: fixedTop.width, height: fixedTop.height, predictedBitrate: fixedTop.bitrate,
                                  predictedPSNR: fixedTop.psnrY, reason: "the fixed ladder's top rung, encoded on the samples")
            }
            let curve = Curve(points: points.filter { same($0.box, box) }.sorted { $0.bitrate < $1.bitrate })
            guard let open = curve.points.first(where: { $0.crf == center }) else { return nil }
            let capped = box.maxBitrate.map { Double($0) * capShare } ?? .infinity
            let bitrate = min(open.bitrate, capped)
            let psnr = bitrate < open.bitrate ? (curve.at(bitrate)?.psnr ?? curve.points[0].psnrY) : open.psnrY
            return ChosenRung(rung: rung, width: open.width, height: open.height, predictedBitrate: bitrate, predictedPSNR: psnr,
                              reason: "the fixed ladder's rung: the default CRF's point of its size, held to its cap")
        }
    }

    /// Drops rungs between the lowest and the top, the most expensive first, until there are at
    /// most `maxCount` and their predicted bit rates sum to at most `budget`, or only those two are
    /// left: the top keeps its quality and the lowest rung, the one a slow connection needs, is never
    /// given up for bytes.
    static func fit(_ ladder: [ChosenRung], budget: Double, maxCount: Int = .max) -> [ChosenRung] {
        var kept = ladder
        while kept.count > 2, kept.count > maxCount || total(kept) > budget {
            kept.remove(at: kept.count - 2)
        }
        return kept
    }

    static func total(_ rungs: [ChosenRung]) -> Double { rungs.reduce(0) { $0 + $1.predictedBitrate } }

    /// One codec's decision: the per-title rungs, no more of them than the fixed ladder has (the
    /// most expensive between the lowest and the top go first), fitted into `keepShare` of what the fixed ladder
    /// spends on the same samples, or the fixed ladder itself when they cannot be (never more bytes
    /// than the fixed ladder, as far as the samples tell).
    static func decide(_ points: [RateQualityPoint], target: Double, fixed: [ChosenRung], fixedBoxes: [VideoRung] = []) -> (rungs: [ChosenRung], decision: Decision) {
        let ladder = choose(points, target: target, fixedBoxes: fixedBoxes)
        guard !ladder.isEmpty else { return (fixed, .fixed) }
        let budget = total(fixed) * keepShare
        guard budget > 0 else { return (ladder, .perTitle) }
        // No more rungs than the fixed ladder it replaces: that count is what the platform chose to
        // store and encode per title (the noise source's five rungs, two pairs of one size, spent
        // 0.84 of the fixed ladder's bytes where three would do).
        let fitted = fit(ladder, budget: budget, maxCount: fixed.count)
        return total(fitted) <= budget ? (fitted, .perTitle) : (fixed, .fixed)
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
        let windows = samples(duration: duration, keyframes: await keyframes(input: input, limits: limits))
        var points: [RateQualityPoint] = []
        var chosen: [ChosenRung] = [], fixedPredicted: [ChosenRung] = []
        var targets: [VideoCodec: Double] = [:]
        var fixedTops: [VideoCodec: RateQualityPoint] = [:]
        var decisions: [VideoCodec: Decision] = [:]
        for codec in codecs.sorted() {
            var (measured, fixedTop) = try await measure(input: input, boxes: boxes, codec: codec, samples: windows, settings: settings,
                                                         targetGiven: targetPSNR != nil, workDirectory: workDirectory, limits: limits)
            markHull(&measured)
            // Without a target: the quality the fixed ladder's top rung has on the same samples.
            guard let target = targetPSNR ?? fixedTop?.psnrY, !measured.isEmpty else {
                throw MediaError(code: .internal, message: "the samples gave no measurable point")
            }
            if let fixedTop { fixedTops[codec] = fixedTop }
            targets[codec] = target
            let fixed = predictFixed(measured, boxes: boxes, fixedTop: fixedTop, codec: codec)
            // A job's own target is a quality to reach, not a ladder to beat: its rungs are kept.
            let (rungs, decision) = targetPSNR == nil ? decide(measured, target: target, fixed: fixed, fixedBoxes: boxes)
                : (choose(measured, target: target, fixedBoxes: boxes), .perTitle)
            chosen += rungs
            fixedPredicted += fixed
            decisions[codec] = decision
            points += measured
        }
        try? FileManager.default.removeItem(atPath: workDirectory)
        return LadderChoice(targetPSNR: targets, targetFromOptions: targetPSNR != nil, samples: windows, points: points, fixedTops: fixedTops,
                            chosen: chosen, fixedPredicted: fixedPredicted, decisions: decisions,
                            probeSeconds: (ContinuousClock.now - started).seconds)
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
