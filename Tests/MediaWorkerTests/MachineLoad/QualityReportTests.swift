import Foundation
import JobContract
@testable import MediaWorker
import TestSupport
import Testing

@Suite("Quality report and per-title ladders", .serialized)
struct QualityReportTests {
    static let sources = ["quality-still.mp4", "quality-low-motion.mp4", "quality-noise.mp4"]

    func boxes(_ heights: [Int]) -> [VideoRung] {
        heights.compactMap { height in VideoLadder.apple.first { $0.maxHeight == height } }
    }

    @Test("segments are sampled evenly over the video, at least one, all with 1")
    func sampling() {
        #expect(QualityMeter.sampledSegments(count: 10, fraction: 0.1) == [5])
        #expect(QualityMeter.sampledSegments(count: 10, fraction: 0.3) == [1, 5, 8])
        #expect(QualityMeter.sampledSegments(count: 4, fraction: 1) == [0, 1, 2, 3])
        #expect(QualityMeter.sampledSegments(count: 3, fraction: 0.01) == [1])
        #expect(QualityMeter.sampledSegments(count: 5, fraction: 0).isEmpty)
        #expect(QualityMeter.sampledSegments(count: 0, fraction: 0.5).isEmpty)
        // Per-title samples: whole 2 s windows, about 5 % of the title, two at least.
        #expect(PerTitleLadder.samples(duration: 8).map(\.start) == [2, 6])
        #expect(PerTitleLadder.samples(duration: 600).count == 15)
        #expect(PerTitleLadder.samples(duration: 1.5).map(\.start) == [0])
        #expect(PerTitleLadder.samples(duration: 1.5).first?.duration == 1.5)
        // Each window starts 1.1 s after the last keyframe at least that long before its place (the
        // sample's encode seeks 1 s back: it lands on that keyframe and decodes 1.1 s before the window). Keyframes every 8.3 s (x264's default at 30 fps): 14 s and 44 s
        // move back to 9.4 s and 42.6 s; every 2 s: 13.1 s and 43.1 s; at scene cuts (the quality
        // benchmark's noise): 44 s moves back to 37.9 s, 1.1 s after the keyframe at 36.8 s (the old rule
        // moved it on to 46 s, 0.9 s after the one at 45.1 s, and the encode's one-second seek landed
        // 9 s back at 36.8 s), and 14 s to 12.1 s.
        let longGOP = stride(from: 0.0, to: 60, by: 8.3).map { $0 }
        #expect(PerTitleLadder.samples(duration: 60).map(\.start) == [14, 44])
        #expect(PerTitleLadder.samples(duration: 60, keyframes: longGOP).map(\.start) == [9.4, 42.6])
        #expect(PerTitleLadder.samples(duration: 60, keyframes: stride(from: 0.0, to: 60, by: 2).map { $0 }).map(\.start) == [13.1, 43.1])
        let sceneCuts = [0, 1.57, 3.93, 6.83, 8.8, 11, 13.03, 15.8, 17.67, 19.67, 21.53, 23.67, 25.43, 27.8, 29.73, 32.37, 34.87, 36.8, 45.1, 47.8]
        #expect(PerTitleLadder.samples(duration: 60, keyframes: sceneCuts).map(\.start) == [12.1, 37.9])
        // Two windows on one keyframe (a GOP longer than their spacing): the later stays in place.
        #expect(PerTitleLadder.samples(duration: 8, keyframes: [0]).map(\.start) == [1.1, 6])
        // An index's decode times put the first keyframe two B-frames before zero: it counts as zero.
        #expect(PerTitleLadder.samples(duration: 8, keyframes: [-0.067, 3.97]).map(\.start) == [1.1, 5.1])
    }

    @Test("the keyframe times come from the container's index: an MP4's sync samples, none for MPEG-TS, none for a file that is not there")
    func keyframeIndex() async throws {
        try await withTestDirectory("keyframe-index") { directory in
            let source = try ProjectPaths.fixture("quality-noise.mp4")
            let times = await PerTitleLadder.keyframes(input: source, limits: MediaLimits())
            // ffprobe, not us, says where the keyframes are.
            let probed = try await CommandRunner.run(try ProjectPaths.tool("ffprobe", package: "ffmpeg"),
                                                     ["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries",
                                                      "frame=pts_time", "-of", "csv=p=0", source])
            let judged = probed.stdout.split(whereSeparator: \.isNewline)
                .compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
            #expect(!times.isEmpty && times.count == judged.count, "\(times) \(judged)")
            for (ours, theirs) in zip(times, judged) { #expect(abs(ours - theirs) < 0.2, "\(times) \(judged)") }
            let ts = directory + "/noise.ts"
            let copied = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), ["-nostdin", "-v", "error", "-i", source, "-c", "copy", ts])
            #expect(copied.succeeded, "\(copied.stderr)")
            #expect(await PerTitleLadder.keyframes(input: ts, limits: MediaLimits()).isEmpty)
            #expect(await PerTitleLadder.keyframes(input: directory + "/missing.mp4", limits: MediaLimits()).isEmpty)
        }
    }

    func point(_ height: Int, crf: Double, bitrate: Double, psnr: Double) -> RateQualityPoint {
        let box = VideoLadder.apple.first { $0.maxHeight == height }!
        let width = height * 16 / 9
        return RateQualityPoint(codec: .h264, box: VideoRung(maxWidth: box.maxWidth, maxHeight: box.maxHeight, crf: crf),
                                width: width, height: height, crf: crf, bitrate: bitrate, psnrY: psnr)
    }

    @Test("the ladder is read off the curves: the top at the lowest rate reaching the target, then 1.75x steps on the best size, sizes never growing, down to 100 kb/s")
    func chooser() {
        // Large pictures win at high rates, small ones at low rates (the usual crossing curves).
        let points = [
            point(540, crf: 17, bitrate: 4_000_000, psnr: 44), point(540, crf: 23, bitrate: 2_000_000, psnr: 40), point(540, crf: 29, bitrate: 1_000_000, psnr: 35),
            point(360, crf: 17, bitrate: 2_000_000, psnr: 40.5), point(360, crf: 23, bitrate: 800_000, psnr: 37), point(360, crf: 29, bitrate: 400_000, psnr: 34),
            point(234, crf: 17, bitrate: 600_000, psnr: 34), point(234, crf: 23, bitrate: 300_000, psnr: 32.5), point(234, crf: 29, bitrate: 150_000, psnr: 30),
        ]
        let chosen = PerTitleLadder.choose(points, target: 42 - PerTitleLadder.topMargin)
        let top = try! #require(chosen.last)
        #expect(top.rung.maxHeight == 540 && abs(top.predictedPSNR - 42) < 0.05)
        // 42 dB (the target and its margin) lies halfway (in log rate) between 2 and 4 Mb/s on the 540 curve.
        #expect(abs(top.predictedBitrate - 2_828_427) / 2_828_427 < 0.02, "\(top.predictedBitrate)")
        #expect(abs((top.rung.crf ?? 0) - 20) < 0.11)
        #expect(top.rung.maxBitrate == Int((top.predictedBitrate * 2).rounded()))
        for (lower, upper) in zip(chosen, chosen.dropFirst()) {
            #expect(abs(upper.predictedBitrate / lower.predictedBitrate - PerTitleLadder.step) < 0.01)
            #expect(lower.width * lower.height <= upper.width * upper.height)
        }
        #expect(chosen.first!.predictedBitrate >= PerTitleLadder.minimumBitrate)
        #expect(chosen.first!.predictedBitrate / PerTitleLadder.step < 150_000, "stops only when no size was measured that low")
        // At 1.6 Mb/s the 360 curve (39.7 dB) beats the 540 one (38.5 dB).
        let at16 = chosen.first { abs($0.predictedBitrate - 1_616_244) / 1_616_244 < 0.02 }
        #expect(at16?.rung.maxHeight == 360, "\(chosen.map { ($0.rung.maxHeight, $0.predictedBitrate) })")
        // A target no point reaches: the best point measured, said so.
        let unreachable = PerTitleLadder.choose(points, target: 50)
        #expect(unreachable.last?.predictedPSNR == 44 && unreachable.last!.reason.contains("out of reach"))
        // Below every size measured: the cheapest point measured above the floor, when it is 1.3x at least under the rung above.
        let shallow = PerTitleLadder.choose([point(540, crf: 23, bitrate: 2_000_000, psnr: 40), point(540, crf: 29, bitrate: 1_000_000, psnr: 36),
                                             point(360, crf: 23, bitrate: 900_000, psnr: 38), point(360, crf: 29, bitrate: 400_000, psnr: 35),
                                             point(234, crf: 29, bitrate: 90_000, psnr: 28)], target: 39.9)
        // 2.0, 1.14 (540), 0.65 (360), then 373 kb/s is under every curve but 234's, which sits under the 100 kb/s floor:
        // the 360 point at 400 (the cheapest above the floor, 1.6x under 653), and nothing after it.
        #expect(shallow.map { Int(($0.predictedBitrate / 1000).rounded()) } == [400, 653, 1143, 2000], "\(shallow.map(\.predictedBitrate))")
        #expect(shallow.first?.reason.contains("cheapest point") == true && shallow.first?.rung.maxHeight == 360)
        // The top stays on the largest size even where a smaller one reaches the target cheaper on
        // the samples (its edges, scaled up, are what samples miss).
        let smallWins = [point(540, crf: 23, bitrate: 2_000_000, psnr: 40), point(540, crf: 29, bitrate: 1_000_000, psnr: 36),
                         point(360, crf: 23, bitrate: 900_000, psnr: 40.5), point(360, crf: 29, bitrate: 450_000, psnr: 37)]
        let kept = PerTitleLadder.choose(smallWins, target: 38)
        #expect(kept.last?.rung.maxHeight == 540 && kept.last!.predictedPSNR >= 38 + PerTitleLadder.topMargin - 0.01, "\(kept)")
        // The upper convex hull in (log rate, PSNR): points under it, or not better than a cheaper one, are off it.
        var marked = [point(234, crf: 29, bitrate: 100_000, psnr: 30), point(360, crf: 23, bitrate: 200_000, psnr: 36),
                      point(234, crf: 17, bitrate: 300_000, psnr: 31), point(540, crf: 23, bitrate: 400_000, psnr: 38),
                      point(540, crf: 17, bitrate: 800_000, psnr: 39), point(360, crf: 17, bitrate: 900_000, psnr: 38.5)]
        PerTitleLadder.markHull(&marked)
        #expect(marked.filter(\.onHull).map(\.psnrY) == [30, 36, 38, 39])
    }

    @Test("a per-title ladder is kept only when the samples say it spends at most 90 % of the fixed ladder's bytes: lower rungs dropped most expensive first, the lowest kept, else the fixed ladder")
    func keptOnlyWhenCheaper() {
        let boxes = VideoLadder.apple.filter { [234, 360, 540].contains($0.maxHeight) }
        let points = [
            point(540, crf: 23, bitrate: 2_400_000, psnr: 40), point(540, crf: 29, bitrate: 1_000_000, psnr: 35),
            point(360, crf: 23, bitrate: 900_000, psnr: 37), point(360, crf: 29, bitrate: 450_000, psnr: 34),
            point(234, crf: 23, bitrate: 300_000, psnr: 32.5), point(234, crf: 29, bitrate: 150_000, psnr: 30),
        ]
        // The fixed top rung capped at 2 Mb/s spent 1.8 (90 % of its cap): the lower caps are predicted at 90 % too.
        let capped = point(540, crf: 23, bitrate: 1_800_000, psnr: 38)
        let fixed = PerTitleLadder.predictFixed(points, boxes: boxes, fixedTop: capped, codec: .h264)
        #expect(fixed.map(\.rung.maxHeight) == [234, 360, 540])
        #expect(fixed.map { Int($0.predictedBitrate.rounded()) } == [130_500, 328_500, 1_800_000], "\(fixed.map(\.predictedBitrate))")
        let fixedTotal = 2_259_000.0
        // Target 37.4 (+0.1): the 540 curve at 1.55 Mb/s, then 885, 506, 289 and 165 kb/s (3.39 Mb/s in all, over the
        // 2.03 budget, and five rungs where the fixed ladder has three): the 885 and 506 rungs go, the most expensive
        // first, and 2.0 Mb/s fits.
        let (rungs, decision) = PerTitleLadder.decide(points, target: 37.4, fixed: fixed)
        #expect(decision == .perTitle)
        let total = rungs.reduce(0) { $0 + $1.predictedBitrate }
        #expect(total <= fixedTotal * PerTitleLadder.keepShare, "\(total)")
        let full = PerTitleLadder.choose(points, target: 37.4)
        #expect(full.count == 5 && rungs.count == 3)
        #expect(rungs.count < full.count && rungs.first == full.first && rungs.last == full.last, "\(rungs.map(\.predictedBitrate))")
        // Nothing between could be kept without passing the budget.
        let dropped = full.dropFirst().dropLast().filter { rung in !rungs.contains(rung) }
        #expect(dropped.allSatisfy { total + $0.predictedBitrate > fixedTotal * PerTitleLadder.keepShare })
        // A target the largest size reaches only near the fixed top's own rate: the fixed ladder is kept, as predicted.
        let (same, sameDecision) = PerTitleLadder.decide(points, target: 39.8, fixed: fixed)
        // A fixed ladder of two rungs: a per-title ladder of two at most, whatever the budget.
        let (pair, _) = PerTitleLadder.decide(points, target: 37.4, fixed: Array(fixed.suffix(2)).map { var r = $0; r.predictedBitrate *= 10; return r })
        #expect(pair.count == 2 && pair.first == full.first && pair.last == full.last, "\(pair.map(\.predictedBitrate))")
        #expect(sameDecision == .fixed && same == fixed)
        // Without caps binding (an easy title) the fixed rungs are the default CRF's points.
        let easy = PerTitleLadder.predictFixed(points.map { var p = $0; p.bitrate /= 20; return p }, boxes: boxes,
                                               fixedTop: point(540, crf: 23, bitrate: 120_000, psnr: 40), codec: .h264)
        #expect(easy.map { Int($0.predictedBitrate.rounded()) } == [15_000, 45_000, 120_000])
    }

    @Test("the quality report agrees with the ffmpeg CLI's psnr and ssim filters on the same frames, for every rung of three very different sources, all segments and a sample")
    func agreesWithFFmpeg() async throws {
        try await withTestDirectory("quality") { directory in
            for (number, name) in Self.sources.enumerated() {
                let source = try ProjectPaths.fixture(name)
                var hls = HLSSettings()
                hls.targetDurationSeconds = 2
                let package = try await HLSPackager.package(input: source, outputDirectory: directory + "/p\(number)", rungs: boxes([540, 360, 234]), hls: hls)
                let all = try await QualityMeter.measure(input: source, directory: package.directory, renditions: package.renditions, fraction: 1,
                                                         settings: EncodeSettings(), timelineOffset: package.timelineOffsetSeconds, limits: MediaLimits())
                let sampled = try await QualityMeter.measure(input: source, directory: package.directory, renditions: package.renditions, fraction: 0.3,
                                                             settings: EncodeSettings(), timelineOffset: package.timelineOffsetSeconds, limits: MediaLimits())
                let full = QualityReport(sample: 1, segments: all), part = QualityReport(sample: 0.3, segments: sampled)
                #expect(full.renditions.map(\.rendition) == ["540p", "360p", "234p"])
                for rendition in full.renditions {
                    let verdict = try await judgeQuality(source: source, package: package.directory, rendition: rendition.rendition)
                    #expect(verdict.frames == 240 && rendition.frames == 240, "\(name) \(rendition.rendition)")
                    let judged = verdict.quality(of: verdict.segments.map(\.name))
                    #expect(abs(rendition.psnrY - judged.psnr) < 0.1, "\(name) \(rendition.rendition): ours \(rendition.psnrY), ffmpeg \(judged.psnr)")
                    #expect(abs(rendition.ssimY - judged.ssim) < 0.001, "\(name) \(rendition.rendition): ours \(rendition.ssimY), ffmpeg \(judged.ssim)")
                    #expect(rendition.segmentsMeasured == 4 && rendition.segmentCount == 4)
                    // The worst segment is the one ffmpeg finds worst.
                    let worst = verdict.segments.min { verdict.quality(of: [$0.name]).psnr < verdict.quality(of: [$1.name]).psnr }
                    #expect(rendition.worst.segment == worst?.name, "\(name) \(rendition.rendition)")
                    // 30 % of 4 segments: the 2nd and 4th, and the figures over exactly those frames.
                    let sample = try #require(part.renditions.first { $0.rendition == rendition.rendition })
                    let names = sampled.filter { $0.rendition == rendition.rendition }.map(\.segment)
                    #expect(names == ["seg-00001.m4s", "seg-00003.m4s"] && sample.segmentsMeasured == 2 && sample.segmentCount == 4)
                    let judgedSample = verdict.quality(of: names)
                    #expect(sample.frames == judgedSample.frames)
                    #expect(abs(sample.psnrY - judgedSample.psnr) < 0.1, "\(name) \(rendition.rendition) sampled")
                }
                // The quality differs as the sources do (the report is not a constant).
                if number == 0 { #expect(full.renditions[0].psnrY > 45) }
                if number == 2 { #expect(full.renditions[0].psnrY < 40) }
                // Compared at a larger size (as the per-title analysis does): the small rung scaled up.
                let upscaled = try await QualityMeter.measure(input: source, directory: package.directory,
                                                              renditions: package.renditions.filter { $0.playlist.hasPrefix("234p/") }, fraction: 1,
                                                              settings: EncodeSettings(), timelineOffset: package.timelineOffsetSeconds,
                                                              compareAt: (960, 540), limits: MediaLimits())
                let judgedUp = try await judgeQuality(source: source, package: package.directory, rendition: "234p", compareAt: "960x540")
                let ours = QualityReport(sample: 1, segments: upscaled).renditions[0].psnrY
                #expect(abs(ours - judgedUp.quality(of: judgedUp.segments.map(\.name)).psnr) < 0.1, "\(name) 234p at 960x540")
            }
        }
    }

    @Test("an encode judged in its own pass agrees with the quality meter reading the package afterwards, frame for frame, for a sample starting between segments")
    func judgedInThePass() async throws {
        try await withTestDirectory("quality-judged") { directory in
            for (number, name) in ["quality-noise.mp4", "quality-still.mp4"].enumerated() {
                let source = try ProjectPaths.fixture(name)
                var hls = HLSSettings()
                hls.packaging = .encode
                hls.targetDurationSeconds = 2
                hls.part = .videoSample(start: 2.3, end: 4.3)
                hls.judgePSNR = true
                let package = try await HLSPackager.package(input: source, outputDirectory: directory + "/p\(number)", rungs: boxes([540, 360, 234]), hls: hls)
                let video = package.renditions.filter { $0.kind == .video }
                #expect(video.count == 3)
                let measured = try await QualityMeter.measure(input: source, directory: package.directory, renditions: package.renditions, fraction: 1,
                                                              settings: EncodeSettings(), timelineOffset: package.timelineOffsetSeconds, firstStart: 2.3,
                                                              compareAt: (960, 540), psnrOnly: true, limits: MediaLimits())
                let report = QualityReport(sample: 1, segments: measured)
                for rendition in video {
                    let folder = QualityMeter.folder(of: rendition)
                    let afterwards = try #require(report.renditions.first { $0.rendition == folder })
                    // Two seconds at 30 fps, every frame compared once, at the largest rung's size.
                    #expect(rendition.judgedFrames == 60 && afterwards.frames == 60, "\(name) \(folder): \(rendition.judgedFrames), \(afterwards.frames)")
                    let judged = SegmentQuality.psnr(meanSquaredError: rendition.judgedMSESum / Double(max(rendition.judgedFrames, 1)))
                    #expect(abs(judged - afterwards.psnrY) < 0.005, "\(name) \(folder): in the pass \(judged), afterwards \(afterwards.psnrY)")
                }
                // The two sources differ as their pictures do: the comparison is not a constant.
                if number == 0 { #expect(report.renditions[0].psnrY < 40) } else { #expect(report.renditions[0].psnrY > 45) }
            }
            // Not asked: nothing judged. A split part's range still has to start on a segment boundary.
            let source = try ProjectPaths.fixture("quality-still.mp4")
            var plain = HLSSettings()
            plain.packaging = .encode
            plain.targetDurationSeconds = 2
            let package = try await HLSPackager.package(input: source, outputDirectory: directory + "/plain", rungs: boxes([360]), hls: plain)
            #expect(package.renditions.filter { $0.kind == .video }.allSatisfy { $0.judgedFrames == 0 })
            plain.part = .videoRange(start: 2.3, end: 4.3)
            do {
                _ = try await HLSPackager.package(input: source, outputDirectory: directory + "/range", rungs: boxes([360]), hls: plain)
                Issue.record("a range starting between segments was packaged")
            } catch let error as MediaError {
                #expect(error.code == .invalidArgument, "\(error)")
            }
        }
    }

    @Test("every codec: a per-title ladder per codec (AV1 beside H.264), each with its own target, and the quality report measures the AV1 rungs too")
    func perTitleCodecs() async throws {
        try await withTestDirectory("per-title-codecs") { directory in
            let source = try ProjectPaths.fixture("quality-still.mp4")
            let info = try await MediaProbe.probe(path: source)
            let choice = try await PerTitleLadder.plan(input: source, info: info, boxes: boxes([360, 234]), codecs: [.av1, .h264], targetPSNR: nil,
                                                       settings: EncodeSettings(), workDirectory: directory + "/probe", limits: MediaLimits())
            // Two CRFs a size (the target comes from the fixed top rung, so none above the default's rate is needed).
            #expect(Set(choice.points.map(\.codec)) == [.h264, .av1] && choice.points.count == 8)
            #expect(choice.targetPSNR.keys.sorted() == [.h264, .av1])
            let codecs = choice.rungs.map(\.codec)
            #expect(codecs.first == .h264 && codecs.contains(.av1) && codecs == codecs.sorted(), "H.264 first: \(codecs)")
            var hls = HLSSettings()
            hls.targetDurationSeconds = 2
            hls.packaging = .encode
            let package = try await HLSPackager.package(input: source, outputDirectory: directory + "/p", rungs: choice.rungs, hls: hls)
            let measured = try await QualityMeter.measure(input: source, directory: package.directory, renditions: package.renditions, fraction: 0.5,
                                                          settings: EncodeSettings(), timelineOffset: package.timelineOffsetSeconds, limits: MediaLimits())
            let report = QualityReport(sample: 0.5, segments: measured)
            let av1 = try #require(report.renditions.first { $0.codec == .av1 })
            #expect(av1.rendition.hasSuffix("-av1") && av1.frames == 120 && av1.psnrY > 30)
            let verdict = try await judgeQuality(source: source, package: package.directory, rendition: av1.rendition)
            let names = measured.filter { $0.rendition == av1.rendition }.map(\.segment)
            #expect(abs(verdict.quality(of: names).psnr - av1.psnrY) < 0.1, "AV1: ours \(av1.psnrY)")
        }
    }

    @Test("per-title ladders: fewer, cheaper rungs for the still slide than for noise, every rung at its predicted quality, the top one at the target")
    func perTitle() async throws {
        try await withTestDirectory("per-title") { directory in
            var ladders: [String: LadderChoice] = [:]
            for (number, name) in Self.sources.enumerated() {
                let source = try ProjectPaths.fixture(name)
                let info = try await MediaProbe.probe(path: source)
                let choice = try await PerTitleLadder.plan(input: source, info: info, boxes: boxes([540, 360, 234]), codecs: [.h264], targetPSNR: nil,
                                                           settings: EncodeSettings(), workDirectory: directory + "/probe\(number)", limits: MediaLimits())
                ladders[name] = choice
                // 1.1 s after the last keyframe before each place (2 s and 6 s), by the index's decode
                // times: the still and low-motion fixtures have one keyframe, at 0 (the second window stays
                // in place rather than overlap the first); noise's scene cuts add 1.47, 3.97 and 6.87 s.
                let expected: [Double] = name == "quality-noise.mp4" ? [1.1, 5.1] : [1.1, 6]
                #expect(choice.points.count == 6)
                #expect(choice.samples.map(\.start) == expected, "\(name): \(choice.samples)")
                #expect(!FileManager.default.fileExists(atPath: directory + "/probe\(number)"), "probe encodes are removed")
                let target = try #require(choice.targetPSNR[.h264])
                // Without a target: the fixed ladder's top rung on the same samples.
                #expect(target == choice.fixedTops[.h264]?.psnrY)
                var hls = HLSSettings()
                hls.targetDurationSeconds = 2
                hls.packaging = .encode
                let package = try await HLSPackager.package(input: source, outputDirectory: directory + "/p\(number)", rungs: choice.rungs, hls: hls)
                let videos = package.renditions.filter { $0.kind == .video }
                #expect(videos.count == choice.chosen.count)
                for (rung, rendition) in zip(choice.chosen, videos) {
                    // What a viewer sees: the rung scaled to the picture's full size, against the source (ffmpeg's filters).
                    let verdict = try await judgeQuality(source: source, package: package.directory, rendition: QualityMeter.folder(of: rendition),
                                                         compareAt: "960x540")
                    let measured = verdict.quality(of: verdict.segments.map(\.name)).psnr
                    #expect(measured >= rung.predictedPSNR - 1, "\(name) \(rendition.playlist): predicted \(rung.predictedPSNR), measured \(measured)")
                    #expect(Double(rendition.averageBitrate) <= rung.predictedBitrate * 1.5, "\(name) \(rendition.playlist)")
                    #expect(rendition.peakBitrate <= 2 * (rung.rung.maxBitrate ?? 0), "\(name) \(rendition.playlist): the cap holds BANDWIDTH")
                }
                let top = try #require(choice.chosen.last)
                let topVerdict = try await judgeQuality(source: source, package: package.directory, rendition: QualityMeter.folder(of: videos.last!),
                                                        compareAt: "960x540")
                #expect(topVerdict.quality(of: topVerdict.segments.map(\.name)).psnr >= target - 0.5, "\(name): top \(top.rung)")
                // A player nobody here wrote plays the per-title package over HTTP (noise: four rungs, two of one size).
                if name == "quality-noise.mp4" {
                    let played = try await playInGStreamer(root: package.directory, master: "master.m3u8", timeout: .seconds(120))
                    #expect(played.ok, "\(played.report)")
                }
            }
            let still = try #require(ladders["quality-still.mp4"]), noise = try #require(ladders["quality-noise.mp4"])
            let low = try #require(ladders["quality-low-motion.mp4"])
            func total(_ choice: LadderChoice) -> Double { choice.chosen.reduce(0) { $0 + $1.predictedBitrate } }
            #expect(still.chosen.count < noise.chosen.count, "still \(still.chosen.count) rungs, noise \(noise.chosen.count)")
            #expect(still.chosen.count <= low.chosen.count)
            #expect(total(still) < total(low) && total(low) < total(noise), "\(total(still)) \(total(low)) \(total(noise))")

            // A target of the job's own: a lower one gives a cheaper top rung that still reaches it.
            let source = try ProjectPaths.fixture("quality-low-motion.mp4")
            let lower = try await PerTitleLadder.plan(input: source, info: try await MediaProbe.probe(path: source), boxes: boxes([540, 360, 234]),
                                                      codecs: [.h264], targetPSNR: 40, settings: EncodeSettings(), workDirectory: directory + "/probe-t",
                                                      limits: MediaLimits())
            let lowerTop = try #require(lower.chosen.last)
            #expect(lowerTop.predictedPSNR >= 40 && lowerTop.predictedBitrate < low.chosen.last!.predictedBitrate)
            #expect(lower.json["target_from"]?.stringValue == "options.target_psnr")
        }
    }
}
