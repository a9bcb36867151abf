import Foundation
import TestSupport
import Testing

// The independent judges: programs nobody here wrote (or small ones over such libraries) that
// say what a package, a manifest or a composition is. Each runs from the project's venv.

/// What the independent judge (scripts/test/hls_judge.py: RFC 8216 rules line by line, ffprobe
/// on every segment and I-frame byte range) says about a package.
struct HLSVerdict: Decodable {
    struct Variant: Decodable {
        var uri: String
        var codecs: String
        var resolution: String?
        var width: Int?
        var height: Int?
        var segments: Int
        var keyframes: [Double]
        var iframe_times: [Double]?
        var bandwidth: Int
    }
    struct Sync: Decodable {
        var flashes: [Double]
        var beeps: [Double]
        var frame_s: Double
        var drifts: [Double]
    }
    struct Facts: Decodable {
        var variants: [Variant]?
        var sync: Sync?
    }
    var errors: [String]
    var facts: Facts
}

func judgeHLS(_ master: String, target: Double? = 6, sync: Bool = false, timeout: Duration = .seconds(300)) async throws -> HLSVerdict {
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    var arguments = [ProjectPaths.scripts.appendingPathComponent("test/hls_judge.py").path, master]
    if let target { arguments += ["--target", String(target)] }
    if sync { arguments.append("--sync") }
    let result = try await CommandRunner.run(python, arguments, timeout: timeout)
    #expect(result.succeeded, "\(result.stderr)")
    return try JSONDecoder().decode(HLSVerdict.self, from: Data(result.stdout.utf8))
}

/// What the DASH judge (scripts/test/dash_judge.py: the MPD parsed by PyPI mpegdash, every segment
/// probed) says about a manifest.
struct DASHVerdict: Decodable {
    struct Representation: Decodable {
        var id: String
        var kind: String
        var codecs: String?
        var segments: Int
        var keyframes: [Double]
        var bandwidth: Int
        var samples: Int?
    }
    struct AdaptationSet: Decodable {
        var period: Int
        var content_type: String?
        var lang: String?
        var roles: [String]
        var codecs: [String]
    }
    struct Facts: Decodable {
        var representations: [Representation]?
        var adaptation_sets: [AdaptationSet]?
        var periods: Int?
        var duration: Double?
    }
    var errors: [String]
    var facts: Facts
}

func judgeDASH(_ manifest: String, timeout: Duration = .seconds(300)) async throws -> DASHVerdict {
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    let result = try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent("test/dash_judge.py").path, manifest], timeout: timeout)
    #expect(result.succeeded, "\(result.stderr)")
    return try JSONDecoder().decode(DASHVerdict.self, from: Data(result.stdout.utf8))
}

/// What the ffmpeg CLI's psnr and ssim filters measure, per segment of a rendition
/// (`scripts/test/quality_judge.py`): the independent judge of the quality report.
struct QualityVerdict: Decodable {
    struct Segment: Decodable {
        var name: String
        var start_s: Double
        var frames: Int
        var mse_sum: Double
        var ssim_sum: Double
    }

    var fps: Double
    var frames: Int
    var segments: [Segment]

    /// PSNR and SSIM over the named segments, averaged as the filters' summaries do.
    func quality(of names: [String]) -> (psnr: Double, ssim: Double, frames: Int) {
        let chosen = segments.filter { names.contains($0.name) }
        let frames = chosen.reduce(0) { $0 + $1.frames }
        let mse = chosen.reduce(0) { $0 + $1.mse_sum } / Double(max(frames, 1))
        return (10 * log10(255 * 255 / mse), chosen.reduce(0) { $0 + $1.ssim_sum } / Double(max(frames, 1)), frames)
    }
}

func judgeQuality(source: String, package: String, rendition: String, compareAt: String? = nil) async throws -> QualityVerdict {
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    var arguments = [ProjectPaths.scripts.appendingPathComponent("test/quality_judge.py").path, source, package, rendition]
    if let compareAt { arguments += ["--compare-at", compareAt] }
    let result = try await CommandRunner.run(python, arguments, timeout: .seconds(300))
    #expect(result.succeeded, "\(result.stdout) \(result.stderr)")
    return try JSONDecoder().decode(QualityVerdict.self, from: Data(result.stdout.utf8))
}

/// What scripts/test/compose_judge.py measured on a composition (see its docstring).
struct ComposeVerdict: Decodable {
    struct Facts: Decodable {
        var frames: Int?
        var video_duration_s: Double?
        var audio_duration_s: Double?
        var video_cuts_s: [Double]?
        var audio_cuts_s: [Double?]?
    }
    var errors: [String]
    var facts: Facts
}
