/// A video codec a transcode ladder can be encoded with (`options.codecs`).
public enum VideoCodec: String, Codable, Sendable, CaseIterable, Comparable {
    /// libx264: every device plays it, so every ladder has it.
    case h264
    /// libx265, tagged hvc1; fMP4 only.
    case hevc
    /// SVT-AV1; fMP4 only.
    case av1

    public static func < (lhs: VideoCodec, rhs: VideoCodec) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
