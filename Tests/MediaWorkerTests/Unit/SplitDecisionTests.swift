import Foundation
import JobContract
@testable import MediaWorker
import TestSupport
import Testing

/// When a transcode is split: what `options.split` asks for is done, or refused, never ignored.
@Suite("Split decision")
struct SplitDecisionTests {
    func decide(_ optionsJSON: String, minimumSeconds: Double = 120) async throws -> (chunkSeconds: Double, duration: Double)? {
        let info = try await MediaProbe.probe(path: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"))
        let options = try JSONValueDecoder(rootPath: "options").decode(TranscodeJobOptions.self, from: try JSONValue.parse(optionsJSON))
        try options.check()
        let plan = TranscodeJobHandler.plan(options)
        let boxes = plan.heights.map { heights in VideoLadder.apple.filter { heights.contains($0.maxHeight) } } ?? VideoLadder.rungs(for: info)
        return SplitTranscode.plan(options: options, info: info, rungs: VideoLadder.rungs(boxes, codecs: options.codecs), hls: plan.hls,
                                   settings: plan.settings, minimumSeconds: minimumSeconds, canSplit: true)
    }

    @Test("an explicit chunk_s is honoured for one rung with packaging auto (that rung is then encoded, not copied)")
    func explicitSplitOneRung() async throws {
        let split = try await decide(#"{"renditions":[234],"split":{"chunk_s":4}}"#)
        #expect(split != nil && split?.duration ?? 0 > 9)
        // Without it, one rung with packaging auto may be a stream copy: left whole.
        #expect(try await decide(#"{"renditions":[234]}"#, minimumSeconds: 5) == nil)
        // Several rungs with packaging auto split as before.
        #expect(try await decide(#"{"renditions":[234,360],"split":{"chunk_s":4}}"#) != nil)
        #expect(try await decide(#"{"renditions":[234],"split":"off"}"#, minimumSeconds: 5) == nil)
    }

    @Test("an explicit chunk_s that the options cannot split is refused with JOB_INVALID_FIELD, not ignored")
    func explicitSplitRefused() async throws {
        do {
            _ = try await decide(#"{"renditions":[234],"split":{"chunk_s":4},"packaging":"copy"}"#)
            Issue.record("an explicit split with packaging copy was accepted")
        } catch {
            #expect("\(error)".contains("options.split"), "\(error)")
        }
    }
}
