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
        /// The gain was held back by the true-peak ceiling: the output is quieter than the target
        /// (only with dynamic correction off).
        public var limitedByTruePeak: Bool
        /// Dynamic correction: the gain to the target with a limiter at this sample-peak ceiling
        /// (dBFS) after it, because one gain alone would have crossed the true-peak ceiling.
        public var limiterDB: Double? = nil
        /// With the limiter: the corrected audio as measured before the encode.
        public var measuredOutput: Measurement? = nil
        /// What the correction makes of the input: measured with a limiter; else computed (a
        /// linear gain moves loudness and peak by it, not the range).
        public var output: Measurement {
            guard input.integratedLUFS > -70 else { return input }
            if let measuredOutput { return measuredOutput }
            return Measurement(integratedLUFS: input.integratedLUFS + gainDB, rangeLU: input.rangeLU, truePeakDB: input.truePeakDB + gainDB)
        }
    }

    /// How far below the true-peak ceiling (less the codec's room) the limiter holds sample peaks:
    /// room for the peaks between samples that a sample-peak limiter does not see.
    public static let interSampleMarginDB = 1.0
    /// Dynamic correction only when one gain would leave the output this far under the target.
    public static let dynamicThresholdDB = 0.5

    public var options: LoudnessOptions
    public var renditions: [Rendition]

    public var gains: [Double] { renditions.map(\.gainDB) }
    /// The limiters' ceilings per rendition (nil: one gain alone).
    public var limits: [Double?] { renditions.map(\.limiterDB) }

    /// Measures `streams` (source indices, the main rendition first) of `input` and plans the gains.
    public static func plan(input: String, streams: [Int], options: LoudnessOptions,
                            limits: MediaLimits = MediaLimits()) async throws(MediaError) -> LoudnessNormalization {
        guard !streams.isEmpty else { return LoudnessNormalization(options: options, renditions: []) }
        let picked = Array(streams.prefix(8))
        let measured = try await measure(input: input, streams: picked, limits: limits)
        var renditions = zip(picked, measured).map { rendition(stream: $0, input: $1, options: options) }
        // A limiter takes loudness from the loudest moments: what it makes is measured (the same
        // filters as the encode's) and the gain raised by the shortfall, at most three times.
        let dynamic = renditions.indices.filter { renditions[$0].limiterDB != nil }
        // The dynamic renditions as their current gains and limiters make them, each output recorded.
        func measureDynamic() async throws(MediaError) -> [Measurement] {
            let outputs = try await measure(input: input, streams: dynamic.map { renditions[$0].stream }, gains: dynamic.map { renditions[$0].gainDB },
                                            limiters: dynamic.compactMap { renditions[$0].limiterDB }, limits: limits)
            for (index, output) in zip(dynamic, outputs) { renditions[index].measuredOutput = output }
            return outputs
        }
        var settled = dynamic.isEmpty
        for _ in 0..<3 where !settled {
            let outputs = try await measureDynamic()
            settled = true
            for (index, output) in zip(dynamic, outputs) {
                let shortfall = options.targetLUFS - output.integratedLUFS
                if abs(shortfall) > 0.2, renditions[index].gainDB + shortfall <= maxGainDB {
                    renditions[index].gainDB += shortfall
                    settled = false
                }
            }
        }
        // The last gains raised were not measured yet.
        if !settled { _ = try await measureDynamic() }
        return LoudnessNormalization(options: options, renditions: renditions)
    }

    /// A gain past this is not loudness correction but noise made audible.
    static let maxGainDB = 40.0

    /// EBU R128 of `streams` in one read, each through its gain and limiter when given.
    static func measure(input: String, streams: [Int], gains: [Double]? = nil, limiters: [Double]? = nil,
                        limits: MediaLimits) async throws(MediaError) -> [Measurement] {
        let callbacks = try await ShimCall.run(LoudnessCallbacks(progress: nil)) { callbacks, token, message in
            var shimLimits = limits.shimValue
            let indices = streams.map(Int32.init)
            let gainValues = gains ?? [], limitValues = limiters ?? []
            return indices.withUnsafeBufferPointer { buffer in
                gainValues.withUnsafeBufferPointer { gainBuffer in
                    limitValues.withUnsafeBufferPointer { limitBuffer in
                        mw_measure_loudness(input, buffer.baseAddress, Int32(buffer.count), gains == nil ? nil : gainBuffer.baseAddress,
                                            limiters == nil ? nil : limitBuffer.baseAddress, &shimLimits, token.raw, callbacks.results, message, 512)
                    }
                }
            }
        }
        return (0..<streams.count).map { index in
            let raw = callbacks.results[index]
            return Measurement(integratedLUFS: raw.integrated_lufs, rangeLU: raw.range_lu, truePeakDB: raw.true_peak_db)
        }
    }

    static func rendition(stream: Int, input: Measurement, options: LoudnessOptions) -> Rendition {
        // Silence (nothing above the gate) stays as it is.
        guard input.integratedLUFS > -70 else { return Rendition(stream: stream, input: input, gainDB: 0, limitedByTruePeak: false) }
        var gain = options.targetLUFS - input.integratedLUFS
        var limited = false
        let ceiling = options.truePeakDB - codecMarginDB
        if input.truePeakDB.isFinite, input.truePeakDB + gain > ceiling {
            let allowed = ceiling - input.truePeakDB
            // One gain when the ceiling allows (or nearly); a limiter only when it must.
            if options.dynamic, gain - allowed > dynamicThresholdDB {
                return Rendition(stream: stream, input: input, gainDB: gain, limitedByTruePeak: false, limiterDB: ceiling - interSampleMarginDB)
            }
            gain = allowed
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
            "target_lufs": .double(options.targetLUFS), "true_peak_db": .double(options.truePeakDB),
            "method": .string(renditions.contains { $0.limiterDB != nil } ? "linear+limiter" : "linear"),
            "renditions": .array(renditions.map { rendition in
                var fields: [String: JSONValue] = [
                    "stream": .integer(rendition.stream), "input": measured(rendition.input), "output": measured(rendition.output),
                    "gain_db": .double(Self.round(rendition.gainDB)), "limited_by_true_peak": .bool(rendition.limitedByTruePeak),
                    "dynamic": .bool(rendition.limiterDB != nil),
                ]
                if let limiter = rendition.limiterDB { fields["limiter_db"] = .double(Self.round(limiter)) }
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
