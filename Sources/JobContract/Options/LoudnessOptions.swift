/// `options.audio.loudness` of a transcode: `"ebu_r128"` (-23 LUFS, -1 dBTP) or
/// `{"target_lufs": -16, "true_peak_db": -1, "dynamic": true}` (each optional, these the defaults;
/// `dynamic` false: one gain only, held back by the ceiling when it must be).
public struct LoudnessOptions: Codable, Sendable, Equatable {
    public var targetLUFS = -16.0
    public var truePeakDB = -1.0
    /// A limiter after the gain when one gain alone would cross the true-peak ceiling.
    public var dynamic = true

    public init() {}

    enum CodingKeys: String, CodingKey { case targetLUFS = "target_lufs", truePeakDB = "true_peak_db", dynamic }

    public init(from decoder: any Decoder) throws {
        if let preset = try? decoder.singleValueContainer().decode(String.self) {
            guard preset == "ebu_r128" else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown loudness preset \(preset)"))
            }
            targetLUFS = -23
            truePeakDB = -1
            return
        }
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        targetLUFS = try fields.decodeIfPresent(Double.self, forKey: .targetLUFS) ?? -16
        truePeakDB = try fields.decodeIfPresent(Double.self, forKey: .truePeakDB) ?? -1
        dynamic = try fields.decodeIfPresent(Bool.self, forKey: .dynamic) ?? true
    }
}
