import Foundation
import JobContract
import Testing

@Suite("Typed job options")
struct JobOptionsTests {
    func rejection(_ text: String) -> RejectedItem? {
        if case .rejected(let item) = JobDecoder().decide(Array(text.utf8)) { return item }
        return nil
    }

    func accepted(_ text: String) -> Bool {
        if case .jobs = JobDecoder().decide(Array(text.utf8)) { return true }
        return false
    }

    static let input = #""input":{"url":"s3://raw/a.mp4"},"output":{"url":"s3://media/"}"#

    @Test("a misspelt option is refused with its name, the likely intended one and the known ones")
    func unknownOption() throws {
        let item = try #require(rejection(#"{"id":"typo","type":"transcode",\#(Self.input),"options":{"renditons":[720]}}"#))
        #expect(item.id == "typo" && item.type == "transcode" && item.code == "JOB_INVALID_FIELD")
        #expect(item.message.contains("options.renditons is not an option of transcode jobs (did you mean renditions?)"), "\(item.message)")
        #expect(item.message.contains("known: audio, audio_tracks, captions, codecs, dash, encryption, ladder, max_fps, mp4, packaging, preset, preview, qc, quality_sample, renditions"), "\(item.message)")
        let probe = try #require(rejection(#"{"type":"probe","input":{"url":"s3://raw/a.mp4"},"options":{"fast":true}}"#))
        #expect(probe.message.contains("options.fast is not an option of probe jobs; it takes none"), "\(probe.message)")
        let nested = try #require(rejection(#"{"type":"compose","output":{"url":"s3://m/"},"options":{"scenes":[{"visual":"s3://m/a.png","duration_s":1,"colour":"red"}]}}"#))
        #expect(nested.message.hasPrefix("options.scenes[0].colour is not an option of compose jobs"), "\(nested.message)")
    }

    @Test("an ill-typed or out-of-range option names its path", arguments: [
        (#"{"renditions":[999]}"#, "options.renditions[0] must be one of 1080, 720, 540, 360, 234"),
        (#"{"renditions":"720"}"#, "options.renditions must be an array"),
        (#"{"thumbnails":2.5}"#, "options.thumbnails must be an integer"),
        (#"{"thumbnails":-1}"#, "options.thumbnails must be at least 0"),
        (#"{"segment_format":"mkv"}"#, #"options.segment_format must be one of "fmp4", "ts""#),
        (#"{"storyboard":"yes"}"#, "options.storyboard must be a boolean"),
        (#"{"preset":"fastest"}"#, "options.preset must be one of"),
        (#"{"renditions":[720,720]}"#, "options.renditions must not repeat 720"),
        (#"{"quality_sample":1.5}"#, "options.quality_sample must be at most 1"),
        (#"{"ladder":"smart"}"#, #"options.ladder must be one of "fixed", "per_title""#),
        (#"{"ladder":"per_title","target_psnr":90}"#, "options.target_psnr must be at most 60"),
        (#"{"target_psnr":40}"#, #"options.target_psnr a target PSNR needs "ladder": "per_title""#),
        (#"{"ladder":"per_title","packaging":"copy"}"#, "options.ladder a per-title ladder is encoded"),
        (#"{"encryption":{"method":"sample-aes"}}"#, #"options.encryption.method must be one of "aes-128""#),
        (#"{"encryption":{"method":"aes-128","rotate_every_segments":-1}}"#, "options.encryption.rotate_every_segments must be at least 0"),
        (#"{"encryption":{"method":"aes-128"},"dash":true}"#, "options.encryption not with dash"),
        (#"{"encryption":{"method":"aes-128"},"segment_format":"fmp4"}"#, "options.encryption not with fMP4 segments"),
        (#"{"encryption":{"method":"aes-128"},"codecs":["hevc"]}"#, "options.encryption not with HEVC or AV1"),
        (#"{"encryption":{"method":"aes-128"},"mp4":[360]}"#, "options.encryption not with mp4 renditions"),
        (#"{"encryption":{"method":"aes-128"},"split":{"chunk_s":30}}"#, "options.encryption not with an explicit split"),
    ])
    func illTyped(options: String, message: String) throws {
        let item = try #require(rejection(#"{"type":"transcode",\#(Self.input),"options":\#(options)}"#))
        #expect(item.code == "JOB_INVALID_FIELD")
        #expect(item.message.hasPrefix(message), "\(item.message)")
    }

    @Test("compose: scenes required, each scene needs audio, text or a duration, union forms and NTSC rates")
    func compose() throws {
        let missing = try #require(rejection(#"{"type":"compose","output":{"url":"s3://m/"},"options":{}}"#))
        #expect(missing.code == "JOB_MISSING_FIELD" && missing.message == "options.scenes is required")
        let silent = try #require(rejection(#"{"type":"compose","output":{"url":"s3://m/"},"options":{"scenes":[{"visual":"s3://m/a.png"}]}}"#))
        #expect(silent.message.hasPrefix("options.scenes[0] must be a scene with audio, or a scene with text, or a scene with a duration_s above 0"), "\(silent.message)")
        let kenBurns = try #require(rejection(#"{"type":"compose","options":{"scenes":[{"visual":"s3://m/a.png","text":"hi"}],"ken_burns":"yes"}}"#))
        #expect(kenBurns.message.hasPrefix("options.ken_burns must be a boolean, or an object"), "\(kenBurns.message)")
        let zoom = try #require(rejection(#"{"type":"compose","options":{"scenes":[{"visual":"s3://m/a.png","text":"hi"}],"ken_burns":{"zoom":2}}}"#))
        #expect(zoom.message.hasPrefix("options.ken_burns.zoom must be at most 0.5"), "\(zoom.message)")
        let fps = try #require(rejection(#"{"type":"compose","options":{"scenes":[{"visual":"s3://m/a.png","text":"hi"}],"output":{"fps":24.5}}}"#))
        #expect(fps.message == "options.output.fps must be whole or an NTSC rate (29.97)")
        let odd = try #require(rejection(#"{"type":"compose","options":{"scenes":[{"visual":"s3://m/a.png","text":"hi"}],"output":{"width":1279}}}"#))
        #expect(odd.message.hasPrefix("options.output.width must be a multiple of 2"))
        #expect(accepted(#"{"type":"compose","options":{"scenes":[{"visual":"s3://m/a.png","text":"hi"}],"output":{"fps":29.97,"width":640},"captions":{"size":0.05},"ken_burns":true}}"#))
    }

    @Test("valid options decode into their typed form with defaults")
    func typed() throws {
        let transcode = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(#"{"renditions":[720,360],"segment_format":"ts","thumbnails":2.0,"max_fps":29.97}"#))
        #expect(transcode.renditions == [720, 360] && transcode.segmentFormat == .ts && transcode.thumbnails == 2)
        #expect(transcode.maxFPS == 29.97 && transcode.storyboard && transcode.mp4.isEmpty && transcode.packaging == nil)
        #expect(transcode.qualitySample == 0.1 && transcode.ladder == .fixed && transcode.targetPSNR == nil)
        let perTitle = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(#"{"ladder":"per_title","target_psnr":42.5,"quality_sample":1}"#))
        #expect(perTitle.ladder == .perTitle && perTitle.targetPSNR == 42.5 && perTitle.qualitySample == 1)
        let stills = try JobOptions.decode(ThumbnailsJobOptions.self, from: nil)
        #expect(stills.count == 10 && stills.image.maxWidth == 640 && stills.image.quality == 3 && stills.times == nil)
        let keyframes = try JobOptions.decode(KeyframesJobOptions.self, from: try JSONValue.parse(#"{"max_count":3,"scene_threshold":0.4,"max_height":90}"#))
        #expect(keyframes.maxCount == 3 && keyframes.sceneThreshold == 0.4 && keyframes.image.maxHeight == 90)
        let compose = try JobOptions.decode(ComposeJobOptions.self, from: try JSONValue.parse(
            #"{"scenes":[{"visual":"s3://m/a.png","audio":"s3://m/a.mp3","duration_s":3}],"output":{"fps":29.97},"ken_burns":{"zoom":0.2},"captions":false}"#))
        #expect(compose.scenes[0].durationSeconds == 3 && compose.kenBurns == .on(0.2) && compose.captions == .off)
        #expect(compose.output.frameRate?.numerator == 30000 && compose.output.frameRate?.denominator == 1001 && compose.output.width == 1280)
        let noop = try JobOptions.decode(NoopJobOptions.self, from: try JSONValue.parse(#"{"fail_with":{"code":"DRILL","retryable":true}}"#))
        #expect(noop.failWith?.code == "DRILL" && noop.failWith?.retryable == true)
    }

    @Test("a far-off name gets no suggestion")
    func noSuggestion() throws {
        let item = try #require(rejection(#"{"type":"transcode",\#(Self.input),"options":{"zzz":1}}"#))
        #expect(item.message.hasPrefix("options.zzz is not an option of transcode jobs; known:"), "\(item.message)")
    }
}
