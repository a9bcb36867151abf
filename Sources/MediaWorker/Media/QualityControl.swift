import CFFmpegShim
import JobContract

/// What quality control found on a transcode's decode (`data.qc` of TranscodeCompleted): black,
/// frozen and silent stretches at least their minimum long. The shim keeps short runs at the
/// edges of what it decoded; `finished` joins the parts of a split job and applies the minimums.
public struct QualityControlReport: Sendable, Equatable, Codable {
    public struct Interval: Sendable, Equatable, Codable {
        public var start: Double
        public var end: Double
        enum CodingKeys: String, CodingKey { case start = "start_s", end = "end_s" }

        public init(start: Double, end: Double) {
            self.start = start
            self.end = end
        }
    }

    public var black: [Interval] = []
    public var frozen: [Interval] = []
    public var silence: [Interval] = []
    /// Whether the picture, and the audio, were looked at (a part sees one of them).
    public var videoMeasured = false
    public var audioMeasured = false
    /// More runs of a kind than the shim keeps (MW_QC_MAX_INTERVALS).
    public var truncated = false

    enum CodingKeys: String, CodingKey {
        case black, frozen, silence, truncated
        case videoMeasured = "video_measured", audioMeasured = "audio_measured"
    }

    public init() {}

    init(_ raw: mw_qc_report) {
        func intervals(_ tuple: some Any, count: Int32) -> [Interval] {
            withUnsafeBytes(of: tuple) { buffer in
                Array(buffer.bindMemory(to: mw_qc_interval.self).prefix(Int(count))).map { Interval(start: $0.start_s, end: $0.end_s) }
            }
        }
        black = intervals(raw.black, count: raw.black_count)
        frozen = intervals(raw.frozen, count: raw.frozen_count)
        silence = intervals(raw.silence, count: raw.silence_count)
        videoMeasured = raw.video_measured != 0
        audioMeasured = raw.audio_measured != 0
        truncated = raw.truncated != 0
    }

    /// The parts' reports as one: runs that touch (a gap under `joinGap`, a frame) become one,
    /// then each kind's minimum applies; times rounded to the millisecond.
    public static func finished(_ parts: [QualityControlReport], options: QualityControlOptions, joinGap: Double = 0.05) -> QualityControlReport {
        var report = QualityControlReport()
        report.videoMeasured = parts.contains { $0.videoMeasured }
        report.audioMeasured = parts.contains { $0.audioMeasured }
        report.truncated = parts.contains { $0.truncated }
        report.black = join(parts.flatMap(\.black), minimum: options.blackMinSeconds, gap: joinGap)
        report.frozen = join(parts.flatMap(\.frozen), minimum: options.frozenMinSeconds, gap: joinGap)
        report.silence = join(parts.flatMap(\.silence), minimum: options.silenceMinSeconds, gap: joinGap)
        return report
    }

    static func join(_ runs: [Interval], minimum: Double, gap: Double) -> [Interval] {
        var joined: [Interval] = []
        for run in runs.sorted(by: { $0.start < $1.start }) {
            if let last = joined.last, run.start <= last.end + gap {
                joined[joined.count - 1].end = max(last.end, run.end)
            } else {
                joined.append(run)
            }
        }
        return joined.filter { $0.end - $0.start >= minimum - 1e-6 }.map {
            Interval(start: ($0.start * 1000).rounded() / 1000, end: ($0.end * 1000).rounded() / 1000)
        }
    }

    /// `{"black": [{"start_s", "end_s"}], "frozen": [...], "silence": [...]}`; a kind that was not
    /// looked at (no video, no audio) is null.
    public var json: JSONValue {
        func list(_ runs: [Interval], measured: Bool) -> JSONValue {
            measured ? .array(runs.map { .object(["start_s": .double($0.start), "end_s": .double($0.end)]) }) : .null
        }
        var fields: [String: JSONValue] = [
            "black": list(black, measured: videoMeasured), "frozen": list(frozen, measured: videoMeasured),
            "silence": list(silence, measured: audioMeasured),
        ]
        if truncated { fields["truncated"] = .bool(true) }
        return .object(fields)
    }
}

extension QualityControlOptions {
    var shimValue: mw_qc_settings {
        var value = mw_qc_settings()
        mw_qc_settings_init_default(&value)
        value.enabled = enabled ? 1 : 0
        value.black_min_s = blackMinSeconds
        value.black_pixel_threshold = blackPixelThreshold
        value.black_picture_ratio = blackPictureRatio
        value.freeze_min_s = frozenMinSeconds
        value.freeze_noise_db = frozenNoiseDB
        value.silence_min_s = silenceMinSeconds
        value.silence_noise_db = silenceNoiseDB
        return value
    }
}
