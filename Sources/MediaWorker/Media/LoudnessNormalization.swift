import CFFmpegShim
import JobContract

/// Loudness normalisation of a transcode's audio renditions (`options.audio.loudness`): each
/// source stream measured (EBU R128: integrated loudness, range, true peak) in one read of the
/// input, then one linear gain per rendition that brings it to the target, held back so the true
/// peak stays under the ceiling with room for the AAC encoder's overshoot (as compose does).
public struct LoudnessNormalization: Sendable, Equatable {
    /// Room left under the ceiling for what AAC encoding adds to the true peak.
    public static let codecMarginDB = 0.5

    public struct Measurement: Sendable, Equatable {
        public var integratedLUFS: Double
        public var rangeLU: Double
        public var truePeakDB: Double
    }

    public struct Rendition: Sendable, Equatable {
        public var stream: Int
        public var input: Measurement
        public var gainDB: Double
        /// The gain was held back by the true-peak ceiling: the output is quieter than the target.
        public var limitedByTruePeak: Bool
        /// What the gain makes of the input (a linear gain moves loudness and peak by it, not the range).
        public var output: Measurement {
            Measurement(integratedLUFS: input.integratedLUFS > -70 ? input.integratedLUFS + gainDB : input.integratedLUFS,
                        rangeLU: input.rangeLU, truePeakDB: input.truePeakDB + gainDB)
        }
    }

    public var options: LoudnessOptions
    public var renditions: [Rendition]

    public var gains: [Double] { renditions.map(\.gainDB) }

    /// Measures `streams` (source indices, the main rendition first) of `input` and plans the gains.
    public static func plan(input: String, streams: [Int], options: LoudnessOptions,
                            limits: MediaLimits = MediaLimits()) async throws(MediaError) -> LoudnessNormalization {
        guard !streams.isEmpty else { return LoudnessNormalization(options: options, renditions: []) }
        let callbacks = try await ShimCall.run(LoudnessCallbacks(progress: nil)) { callbacks, token, message in
            var shimLimits = limits.shimValue
            let indices = streams.prefix(8).map(Int32.init)
            return indices.withUnsafeBufferPointer { buffer in
                mw_measure_loudness(input, buffer.baseAddress, Int32(buffer.count), &shimLimits, token.raw, callbacks.results, message, 512)
            }
        }
        let renditions = (0..<min(streams.count, 8)).map { index in
            let raw = callbacks.results[index]
            let input = Measurement(integratedLUFS: raw.integrated_lufs, rangeLU: raw.range_lu, truePeakDB: raw.true_peak_db)
            return rendition(stream: Int(raw.stream), input: input, options: options)
        }
        return LoudnessNormalization(options: options, renditions: renditions)
    }

    static func rendition(stream: Int, input: Measurement, options: LoudnessOptions) -> Rendition {
        // Silence (nothing above the gate) stays as it is.
        guard input.integratedLUFS > -70 else { return Rendition(stream: stream, input: input, gainDB: 0, limitedByTruePeak: false) }
        var gain = options.targetLUFS - input.integratedLUFS
        var limited = false
        let ceiling = options.truePeakDB - codecMarginDB
        if input.truePeakDB.isFinite, input.truePeakDB + gain > ceiling {
            gain = ceiling - input.truePeakDB
            limited = true
        }
        return Rendition(stream: stream, input: input, gainDB: gain, limitedByTruePeak: limited)
    }

    /// `data.loudness`: the target, and per audio rendition (by source stream) input, gain and output.
    public func json(languages: [Int: String] = [:]) -> JSONValue {
        func measured(_ m: Measurement) -> JSONValue {
            .object(["integrated_lufs": .double(Self.round(m.integratedLUFS)), "range_lu": .double(Self.round(m.rangeLU)),
                     "true_peak_db": m.truePeakDB.isFinite ? .double(Self.round(m.truePeakDB)) : .null])
        }
        return .object([
            "target_lufs": .double(options.targetLUFS), "true_peak_db": .double(options.truePeakDB), "method": .string("linear"),
            "renditions": .array(renditions.map { rendition in
                var fields: [String: JSONValue] = [
                    "stream": .integer(rendition.stream), "input": measured(rendition.input), "output": measured(rendition.output),
                    "gain_db": .double(Self.round(rendition.gainDB)), "limited_by_true_peak": .bool(rendition.limitedByTruePeak),
                ]
                if let language = languages[rendition.stream] { fields["language"] = .string(language) }
                return .object(fields)
            }),
        ])
    }

    static func round(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}

final class LoudnessCallbacks: ShimCallbacks, @unchecked Sendable {
    let results = UnsafeMutablePointer<mw_loudness>.allocate(capacity: 8)

    required init(progress: (@Sendable (Double) -> Void)?) {
        results.initialize(repeating: mw_loudness(), count: 8)
        super.init(progress: progress)
    }

    deinit { results.deallocate() }
}
