import CFFmpegShim
import Foundation
import Testing
import TestSupport

/// The C interface itself: statuses, limits, cancellation, bad input.
@Suite("CFFmpegShim probe")
struct ShimProbeTests {
    init() { mw_log_set_level(-8) }

    private func probe(_ path: String, limits: mw_limits? = nil, cancel: OpaquePointer? = nil) -> (mw_status, mw_media_info, String) {
        var info = mw_media_info()
        var message = [CChar](repeating: 0, count: 512)
        var shimLimits = limits ?? { var l = mw_limits(); mw_limits_init_default(&l); return l }()
        let status = mw_probe_file(path, &shimLimits, cancel, &info, &message, message.count)
        return (status, info, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private func defaultLimits() -> mw_limits {
        var limits = mw_limits()
        mw_limits_init_default(&limits)
        return limits
    }

    @Test("status names are distinct and stable")
    func statusNames() {
        let names = (0...15).map { String(cString: mw_status_name(mw_status(rawValue: UInt32($0)))) }
        #expect(Set(names).count == names.count)
        #expect(names[Int(MW_E_FORMAT_NOT_ALLOWED.rawValue)] == "MEDIA_FORMAT_NOT_ALLOWED")
        #expect(names[0] == "OK")
    }

    @Test("a good file: container, streams and parameters")
    func goodFile() throws {
        let (status, info, message) = probe(try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"))
        #expect(status == MW_OK, "\(message)")
        #expect(info.stream_count == 2)
        #expect(abs(Double(info.duration_us) / 1e6 - 10) < 0.05)
        let video = info.streams.0
        #expect(video.media_type == Int32(MW_MEDIA_VIDEO.rawValue))
        #expect(video.width == 1920 && video.height == 1080)
        #expect(video.avg_fps_num == 30 && video.avg_fps_den == 1)
        let audio = info.streams.1
        #expect(audio.media_type == Int32(MW_MEDIA_AUDIO.rawValue))
        #expect(audio.sample_rate == 48000 && audio.channels == 2)
    }

    @Test("limits: dimensions, duration and stream count each have their own status")
    func limits() throws {
        let path = try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4")
        var small = defaultLimits()
        small.max_width = 1280
        #expect(probe(path, limits: small).0 == MW_E_DIMENSIONS_TOO_LARGE)
        var pixels = defaultLimits()
        pixels.max_pixels = 1920 * 1080 - 1
        #expect(probe(path, limits: pixels).0 == MW_E_DIMENSIONS_TOO_LARGE)
        var short = defaultLimits()
        short.max_duration_us = 5_000_000
        #expect(probe(path, limits: short).0 == MW_E_DURATION_TOO_LONG)
        var oneStream = defaultLimits()
        oneStream.max_streams = 1
        #expect(probe(path, limits: oneStream).0 == MW_E_TOO_MANY_STREAMS)
    }

    @Test("a cancelled token stops the operation with MW_E_CANCELED")
    func cancellation() throws {
        let token = try #require(mw_cancel_token_new())
        defer { mw_cancel_token_free(token) }
        mw_cancel_token_cancel(token)
        #expect(mw_cancel_token_is_canceled(token) == 1)
        let (status, _, _) = probe(try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"), cancel: token)
        #expect(status == MW_E_CANCELED)
    }

    @Test("names that look like protocols are read as plain file names")
    func protocolLookingNames() throws {
        let directory = try makeTestDirectory("shim")
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try ProjectPaths.fixture("short-0.5s.mp4")
        let tricky = directory.appendingPathComponent("concat:x.mp4").path
        try FileManager.default.copyItem(atPath: good, toPath: tricky)
        #expect(probe(tricky).0 == MW_OK)
        #expect(probe("subfile:,,start,0,end,0,,:\(good)").0 == MW_E_INPUT_NOT_FOUND)
        #expect(probe("http://127.0.0.1:1/x.mp4").0 == MW_E_INPUT_NOT_FOUND)
    }

    @Test("bad inputs give their own status", arguments: [
        ("bad-zero-bytes.mp4", MW_E_INPUT_EMPTY),
        ("bad-truncated-no-moov.mp4", MW_E_INPUT_CORRUPT),
        ("bad-random-bytes.mp4", MW_E_FORMAT_UNRECOGNIZED),
        ("bad-text-file.mp4", MW_E_FORMAT_UNRECOGNIZED),
        ("bad-disguised-playlist.mp4", MW_E_FORMAT_NOT_ALLOWED),
        ("bad-absurd-dimensions.png", MW_E_DIMENSIONS_TOO_LARGE),
    ])
    func badInputs(name: String, expected: mw_status) throws {
        let (status, _, message) = probe(try ProjectPaths.fixture(name))
        #expect(status == expected, "\(name): \(message)")
        #expect(!message.isEmpty)
    }

    @Test("a missing file and a directory are told apart")
    func missingAndDirectory() {
        #expect(probe("/nonexistent/file.mp4").0 == MW_E_INPUT_NOT_FOUND)
        #expect(probe("/tmp").0 == MW_E_INPUT_UNREADABLE)
    }
}
