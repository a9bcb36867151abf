import CFFmpegShim
import Foundation

/// One AES-128 key of an encrypted package: the segments numbered `firstSegment` up to (not
/// including) `endSegment` of every rendition are encrypted with it (`Int.max`: to the end).
public struct HLSKey: Sendable, Equatable {
    /// 32 lower-case hex digits, random: the key's name in its URL and in the key store.
    public var id: String
    public var bytes: [UInt8]
    /// What the playlists' EXT-X-KEY URI says.
    public var uri: String
    public var firstSegment: Int
    public var endSegment: Int

    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// HLS AES-128 (RFC 8216 section 5.2) over a finished package: every media segment of every
/// audio and video rendition encrypted whole, one EXT-X-KEY with a random IV before each segment,
/// a new key every `rotateEverySegments` segments (the same periods in every rendition, so a player
/// switching rungs needs no other key). The init segments stay in the clear (codec set-up, no
/// pictures), as do subtitles (text) and the stills. I-frame playlists are dropped: their byte
/// ranges point into segments a player could no longer decrypt from the middle.
public struct SegmentEncryption: Sendable {
    /// 0: one key for the whole asset.
    public var rotateEverySegments: Int
    /// The key's URL in the playlists, from its id.
    public var keyURI: @Sendable (String) -> String

    public init(rotateEverySegments: Int, keyURI: @escaping @Sendable (String) -> String) {
        self.rotateEverySegments = rotateEverySegments
        self.keyURI = keyURI
    }

    /// Random bytes from the system's generator (getrandom on Linux: fit for keys).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Encrypts the renditions' segments in `directory` in place and rewrites their playlists; the
    /// renditions lose their I-frame playlists and gain the padding's bits in their bandwidths.
    func apply(directory: String, renditions: inout [HLSRendition]) async throws(MediaError) -> [HLSKey] {
        let segmentCounts = renditions.map(\.segmentCount)
        let periods = rotateEverySegments > 0 ? max(1, ((segmentCounts.max() ?? 0) + rotateEverySegments - 1) / rotateEverySegments) : 1
        let keys = (0..<periods).map { period in
            let id = Self.randomBytes(16).map { String(format: "%02x", $0) }.joined()
            return HLSKey(id: id, bytes: Self.randomBytes(16), uri: keyURI(id),
                          firstSegment: rotateEverySegments > 0 ? period * rotateEverySegments : 0,
                          endSegment: rotateEverySegments > 0 && period < periods - 1 ? (period + 1) * rotateEverySegments : Int.max)
        }
        let rotate = rotateEverySegments
        let playlists = renditions.map(\.playlist)
        let outcome: Result<[(peak: Int, average: Int)], MediaError>
        do {
            outcome = try await BlockingWork.run {
                Result { () throws(MediaError) in
                    try playlists.map { playlist throws(MediaError) in
                        try Self.encrypt(playlist: playlist, in: directory, keys: keys, rotate: rotate)
                    }
                }
            }
        } catch {
            throw MediaError(code: .canceled, message: "not run: \(error)")
        }
        let padding = try outcome.get()
        for index in renditions.indices {
            if let iframes = renditions[index].iframePlaylist { try? FileManager.default.removeItem(atPath: directory + "/" + iframes) }
            renditions[index].iframePlaylist = nil
            renditions[index].iframePeakBitrate = nil
            renditions[index].iframeAverageBitrate = nil
            renditions[index].peakBitrate += padding[index].peak
            renditions[index].averageBitrate += padding[index].average
        }
        return keys
    }

    /// One media playlist: its segments encrypted (each to a new file renamed over the clear one)
    /// and the playlist rewritten with their keys. Returns what the padding adds to the bandwidths
    /// (at most 16 bytes a segment: bounded from above, so BANDWIDTH stays an upper bound).
    private static func encrypt(playlist: String, in directory: String, keys: [HLSKey], rotate: Int) throws(MediaError) -> (peak: Int, average: Int) {
        let path = directory + "/" + playlist
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MediaError(code: .outputFailed, message: "cannot read \(playlist) to encrypt its segments")
        }
        var media = HLSMediaPlaylist(parsing: text)
        guard !media.iFramesOnly, media.segments.allSatisfy({ $0.byteRange == nil }) else {
            throw MediaError(code: .invalidArgument, message: "\(playlist): byte-range segments cannot be encrypted whole")
        }
        let folder = (path as NSString).deletingLastPathComponent
        for index in media.segments.indices {
            let key = keys[rotate > 0 ? min(keys.count - 1, index / rotate) : 0]
            let iv = randomBytes(16)
            let segment = folder + "/" + media.segments[index].uri
            var message = [CChar](repeating: 0, count: 512)
            let status = message.withUnsafeMutableBufferPointer { buffer in
                mw_aes128_cbc_encrypt_file(segment, segment + ".enc", key.bytes, iv, buffer.baseAddress, buffer.count)
            }
            guard status == MW_OK else { throw MediaError(status: status, message: cString(message)) }
            guard rename(segment + ".enc", segment) == 0 else {
                throw MediaError(code: .outputFailed, message: "cannot replace \(segment) with its encrypted bytes")
            }
            media.segments[index].key = HLSMediaPlaylist.Key(uri: key.uri, iv: iv)
        }
        do {
            try media.text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw MediaError(code: .outputFailed, message: "cannot write \(playlist): \(error.localizedDescription)")
        }
        let durations = media.segments.map(\.duration)
        let shortest = durations.filter { $0 > 0 }.min() ?? 1
        let total = durations.reduce(0, +)
        return (Int((128 / shortest).rounded(.up)), total > 0 ? Int((128 * Double(durations.count) / total).rounded(.up)) : 0)
    }
}
