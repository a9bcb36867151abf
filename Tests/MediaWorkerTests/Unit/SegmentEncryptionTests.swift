import Foundation
@testable import MediaWorker
import TestSupport
import Testing

/// HLS AES-128: judged by OpenSSL's command-line decryption (a cipher implementation nobody here
/// wrote) and by players that must fetch the keys to play.
@Suite("HLS AES-128 segment encryption", .serialized)
struct SegmentEncryptionTests {
    func rungs(_ heights: [Int]) -> [VideoRung] {
        heights.compactMap { height in VideoLadder.apple.first { $0.maxHeight == height } }
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Encrypts a 2-rung package with 2 s segments; keys are served from `<root>/keys/<id>.key`.
    func encryptedPackage(root: String, name: String, format: HLSSettings.SegmentFormat, rotate: Int) async throws -> HLSPackage {
        var hls = HLSSettings()
        hls.segmentFormat = format
        hls.targetDurationSeconds = 2
        let clear = try await HLSPackager.package(
            input: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"), outputDirectory: root + "/" + name, rungs: rungs([360, 234]), hls: hls)
        #expect(clear.renditions.contains { $0.iframePlaylist != nil })
        let package = try await HLSPackager.encrypt(clear, with: SegmentEncryption(rotateEverySegments: rotate) { "/keys/\($0).key" })
        try FileManager.default.createDirectory(atPath: root + "/keys", withIntermediateDirectories: true)
        for key in package.keys {
            FileManager.default.createFile(atPath: root + "/keys/\(key.id).key", contents: Data(key.bytes))
        }
        return package
    }

    @Test("every segment of every rendition encrypted, an IV of its own, keys rotating every 2 segments across renditions; OpenSSL decrypts each back to media; init segments clear, I-frame variants gone", arguments: [HLSSettings.SegmentFormat.fmp4, .ts])
    func segmentsEncrypted(format: HLSSettings.SegmentFormat) async throws {
        let directory = try makeTestDirectory("hls-aes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path
        let package = try await encryptedPackage(root: root, name: "pkg", format: format, rotate: 2)
        let longest = package.renditions.map(\.segmentCount).max() ?? 0
        #expect(longest >= 5)
        #expect(package.keys.count == (longest + 1) / 2)
        #expect(Set(package.keys.map(\.id)).count == package.keys.count && Set(package.keys.map(\.bytes)).count == package.keys.count)
        let master = try String(contentsOfFile: package.masterPlaylist, encoding: .utf8)
        #expect(!master.contains("I-FRAME"), "\(master)")
        var ivs: Set<[UInt8]> = []
        var segments = 0
        let openssl = try ProjectPaths.tool("openssl", package: "openssl")
        let ffprobe = try ProjectPaths.tool("ffprobe", package: "ffmpeg")
        for rendition in package.renditions {
            #expect(rendition.iframePlaylist == nil)
            let folder = root + "/pkg/" + (rendition.playlist as NSString).deletingLastPathComponent
            let text = try String(contentsOfFile: root + "/pkg/" + rendition.playlist, encoding: .utf8)
            let playlist = HLSMediaPlaylist(parsing: text)
            #expect(playlist.segments.count == rendition.segmentCount)
            // The init segment comes before any key: it is read in the clear.
            if let initURI = playlist.initURI {
                #expect(text.range(of: "#EXT-X-MAP")!.lowerBound < text.range(of: "#EXT-X-KEY")!.lowerBound)
                let head = try #require(FileHandle(forReadingAtPath: folder + "/" + initURI)?.readData(ofLength: 8))
                #expect(String(decoding: head.suffix(4), as: UTF8.self) == "ftyp")
            }
            for (index, segment) in playlist.segments.enumerated() {
                let key = try #require(segment.key, "\(rendition.playlist) segment \(index) has no key")
                #expect(key.uri == package.keys[index / 2].uri)
                ivs.insert(key.iv)
                segments += 1
                let path = folder + "/" + segment.uri
                let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
                #expect(size % 16 == 0)
                // Encrypted, the bytes are no media a prober recognises.
                let clear = path + ".clear"
                let decrypted = try await CommandRunner.run(openssl, [
                    "enc", "-d", "-aes-128-cbc", "-K", hex(package.keys[index / 2].bytes), "-iv", hex(key.iv), "-in", path, "-out", clear,
                ])
                #expect(decrypted.succeeded, "\(decrypted.stderr)")
                // The IV decides the first block alone: it must give back the segment's first bytes.
                let first = try #require(FileHandle(forReadingAtPath: clear)?.readData(ofLength: 8))
                if format == .ts {
                    #expect(first.first == 0x47, "\(segment.uri): no TS sync byte after decryption")
                } else {
                    #expect(["styp", "moof", "sidx"].contains(String(decoding: first.suffix(4), as: UTF8.self)), "\(segment.uri): no box after decryption")
                }
                var probeInput = clear
                if let initURI = playlist.initURI {
                    probeInput = path + ".whole"
                    var whole = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + initURI))
                    whole.append(try Data(contentsOf: URL(fileURLWithPath: clear)))
                    try whole.write(to: URL(fileURLWithPath: probeInput))
                }
                let packets = try await CommandRunner.run(ffprobe, ["-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", probeInput])
                #expect(packets.succeeded && (Int(packets.stdout.split(separator: "\n").first ?? "") ?? 0) > 0, "\(segment.uri): \(packets.stdout) \(packets.stderr)")
                if index == 0 {
                    let scrambled = try await CommandRunner.run(ffprobe, ["-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path])
                    #expect(!scrambled.succeeded || (Int(scrambled.stdout.split(separator: "\n").first ?? "") ?? 0) == 0, "\(segment.uri) is readable encrypted: \(scrambled.stdout)")
                }
            }
        }
        #expect(ivs.count == segments, "an IV is used twice")
    }

    @Test("an encrypted MPEG-TS package with rotating keys plays to its end in GStreamer (hlsdemux2) and Video.js over HTTP with the keys served; without them GStreamer cannot")
    func playersNeedTheKeys() async throws {
        let directory = try makeTestDirectory("hls-aes-play")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path
        // MPEG-TS, as transcodes with encryption make: both players apply the segment's key to an
        // fMP4 init segment too (GStreamer 1.22 fetches the key before EXT-X-MAP), which RFC 8216 leaves clear.
        let package = try await encryptedPackage(root: root, name: "pkg", format: .ts, rotate: 3)
        #expect(package.keys.count >= 2)
        let played = try await playInGStreamer(root: root, master: "pkg/master.m3u8")
        #expect(played.ok, "\(played.report)")
        #expect(package.keys.allSatisfy { played.report.contains("keys/\($0.id).key") }, "every key fetched: \(played.report)")
        let browser = try await playInVideoJS(root: root, manifest: "pkg/master.m3u8")
        #expect(browser.ok, "\(browser.report)")
        try FileManager.default.removeItem(atPath: root + "/keys")
        // Without its keys hlsdemux2 sometimes retries until its time is up instead of failing (a run
        // waited the whole 300 s once): a clear package plays in seconds, so 60 s tells them apart.
        let locked = try await playInGStreamer(root: root, master: "pkg/master.m3u8", timeout: .seconds(60))
        #expect(!locked.ok && locked.report.contains(#""keys_fetched": []"#), "played without its keys: \(locked.report)")
    }
}
