import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// Hostile inputs against a running worker: malformed jobs and malformed media. Each ends dead
/// with a specific code and message, the worker keeps serving, and nothing is written outside
/// the storage root.
@Suite("Hostile inputs", .serialized)
struct HostileInputTests {
    func withWorker(_ body: (WorkerProcess, QueueProbe, URL) async throws -> Void) async throws {
        try await MediaWorkerTests.withWorker(folder: "hostile", prepare: { directory in
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("outside"), withIntermediateDirectories: true)
            try "secret".write(to: directory.appendingPathComponent("outside/secret.mp4"), atomically: true, encoding: .utf8)
        }) { worker, probe, directory in
            try await body(worker, probe, directory)
            // Nothing was written outside the root.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("outside").path) == ["secret.mp4"])
        }
    }

    @Test("45 malformed jobs: each dead with its code and message, the worker keeps serving")
    func malformedJobs() async throws {
        try await withWorker { worker, probe, directory in
            let root = directory.appendingPathComponent("storage").path
            let good = "file://" + root + "/raw/clip.mp4"
            try FileManager.default.copyItem(atPath: try ProjectPaths.fixture("short-0.5s.mp4"), toPath: root + "/raw/clip.mp4")
            try FileManager.default.createSymbolicLink(atPath: root + "/raw/link.mp4", withDestinationPath: directory.appendingPathComponent("outside/secret.mp4").path)
            let outside = "file://" + directory.appendingPathComponent("outside").path
            let out = "file://" + root + "/out/"
            // (id, JSON, expected code); ids are given where the payload can carry one.
            let cases: [(String, String, String)] = [
                ("", "{not json", "JOB_INVALID_JSON"),
                ("", "[1, 2]", "JOB_INVALID_NOTIFICATION"),
                ("", String(repeating: "[", count: 100_000), "JOB_TOO_DEEP"),
                ("", #"{"type":"noop","metadata":{"pad":""#, "JOB_INVALID_JSON"),
                ("", #"{"id":"big","type":"noop","metadata":{"pad":"\#(String(repeating: "x", count: 10 << 20))"}}"#, "JOB_TOO_LARGE"),
                ("h-unknown", #"{"id":"h-unknown","type":"transmogrify"}"#, "JOB_UNKNOWN_TYPE"),
                ("h-type-number", #"{"id":"h-type-number","type":5}"#, "JOB_MISSING_FIELD"),
                ("h-no-type", #"{"id":"h-no-type"}"#, "JOB_MISSING_FIELD"),
                ("h-no-input", #"{"id":"h-no-input","type":"probe"}"#, "JOB_MISSING_FIELD"),
                ("h-input-number", #"{"id":"h-input-number","type":"probe","input":{"url":5}}"#, "JOB_MISSING_FIELD"),
                ("h-input-string", #"{"id":"h-input-string","type":"probe","input":"\#(good)"}"#, "JOB_INVALID_FIELD"),
                ("h-attempts-negative", #"{"id":"h-attempts-negative","type":"noop","max_attempts":-3}"#, "JOB_INVALID_FIELD"),
                ("h-attempts-huge", #"{"id":"h-attempts-huge","type":"noop","max_attempts":1e308}"#, "JOB_INVALID_FIELD"),
                ("h-timeout-negative", #"{"id":"h-timeout-negative","type":"noop","timeout_s":-1}"#, "JOB_INVALID_FIELD"),
                ("h-timeout-huge", #"{"id":"h-timeout-huge","type":"noop","timeout_s":1e20}"#, "JOB_INVALID_FIELD"),
                ("h-delay-negative", #"{"id":"h-delay-negative","type":"noop","delay_ms":-5}"#, "JOB_INVALID_FIELD"),
                ("h-run-at", #"{"id":"h-run-at","type":"noop","run_at":"yesterday"}"#, "JOB_INVALID_FIELD"),
                ("h-both-times", #"{"id":"h-both-times","type":"noop","run_at":"2026-01-01T00:00:00Z","delay_ms":5}"#, "JOB_INVALID_FIELD"),
                ("", #"{"id":"has spaces","type":"noop"}"#, "JOB_INVALID_FIELD"),
                ("", #"{"id":"\#(String(repeating: "a", count: 200))","type":"noop"}"#, "JOB_INVALID_FIELD"),
                ("h-priority", #"{"id":"h-priority","type":"noop","priority":"urgent"}"#, "JOB_INVALID_FIELD"),
                ("h-http", #"{"id":"h-http","type":"probe","input":{"url":"http://example.com/a.mp4"}}"#, "JOB_INVALID_URL"),
                ("h-metadata-array", #"{"id":"h-metadata-array","type":"noop","metadata":[1]}"#, "JOB_INVALID_FIELD"),
                ("h-metadata-big", #"{"id":"h-metadata-big","type":"noop","metadata":{"pad":"\#(String(repeating: "y", count: 20_000))"}}"#, "JOB_INVALID_FIELD"),
                ("h-options-string", #"{"id":"h-options-string","type":"noop","options":"fast"}"#, "JOB_INVALID_FIELD"),
                ("h-movie-control", #"{"id":"h-movie-control","type":"noop","movie_id":"a\u0001b"}"#, "JOB_INVALID_FIELD"),
                ("h-file-id-dots", #"{"id":"h-file-id-dots","type":"noop","file_id":"../../etc"}"#, "JOB_INVALID_FIELD"),
                ("", #"{"id":"h-id-nul\u0000x","type":"noop"}"#, "JOB_INVALID_FIELD"),
                // Accepted by the decoder, refused by the handler (one attempt each).
                ("h-dotdot", #"{"id":"h-dotdot","type":"probe","max_attempts":1,"input":{"url":"file://\#(root)/raw/../../outside/secret.mp4"}}"#, "STORAGE_OUTSIDE_ROOT"),
                ("h-absolute", #"{"id":"h-absolute","type":"probe","max_attempts":1,"input":{"url":"file:///etc/passwd"}}"#, "STORAGE_OUTSIDE_ROOT"),
                ("h-symlink", #"{"id":"h-symlink","type":"probe","max_attempts":1,"input":{"url":"file://\#(root)/raw/link.mp4"}}"#, "STORAGE_OUTSIDE_ROOT"),
                ("h-out-outside", #"{"id":"h-out-outside","type":"thumbnails","max_attempts":1,"input":{"url":"\#(good)"},"output":{"url":"\#(outside)/"}}"#, "STORAGE_OUTSIDE_ROOT"),
                ("h-bucket", #"{"id":"h-bucket","type":"probe","max_attempts":1,"input":{"url":"s3://not-configured/a.mp4"}}"#, "STORAGE_NOT_CONFIGURED"),
                ("h-missing", #"{"id":"h-missing","type":"probe","max_attempts":1,"input":{"url":"file://\#(root)/raw/nope.mp4"}}"#, "STORAGE_NOT_FOUND"),
                ("h-compose-outside", #"{"id":"h-compose-outside","type":"compose","max_attempts":1,"output":{"url":"\#(out)"},"options":{"scenes":[{"visual":"file:///etc/passwd","duration_s":1}]}}"#, "STORAGE_OUTSIDE_ROOT"),
                // Options are checked against their type's schema on arrival: dead at once, naming the field.
                ("h-renditions", #"{"id":"h-renditions","type":"transcode","input":{"url":"\#(good)"},"output":{"url":"\#(out)"},"options":{"renditions":[999]}}"#, "JOB_INVALID_FIELD"),
                ("h-renditions-typo", #"{"id":"h-renditions-typo","type":"transcode","input":{"url":"\#(good)"},"output":{"url":"\#(out)"},"options":{"renditons":[720]}}"#, "JOB_INVALID_FIELD"),
                ("h-count-negative", #"{"id":"h-count-negative","type":"thumbnails","input":{"url":"\#(good)"},"output":{"url":"\#(out)"},"options":{"count":-5}}"#, "JOB_INVALID_FIELD"),
                ("h-count-huge", #"{"id":"h-count-huge","type":"thumbnails","input":{"url":"\#(good)"},"output":{"url":"\#(out)"},"options":{"count":1e9}}"#, "JOB_INVALID_FIELD"),
                ("h-count-fraction", #"{"id":"h-count-fraction","type":"thumbnails","input":{"url":"\#(good)"},"output":{"url":"\#(out)"},"options":{"count":2.5}}"#, "JOB_INVALID_FIELD"),
                ("h-compose-empty", #"{"id":"h-compose-empty","type":"compose","output":{"url":"\#(out)"},"options":{"scenes":[]}}"#, "JOB_INVALID_FIELD"),
                ("h-compose-none", #"{"id":"h-compose-none","type":"compose","output":{"url":"\#(out)"},"options":{}}"#, "JOB_MISSING_FIELD"),
                ("h-compose-size", #"{"id":"h-compose-size","type":"compose","output":{"url":"\#(out)"},"options":{"scenes":[{"visual":"\#(good)","duration_s":1}],"output":{"width":99999,"height":-1}}}"#, "JOB_INVALID_FIELD"),
                ("h-probe-options", #"{"id":"h-probe-options","type":"probe","input":{"url":"\#(good)"},"options":{"deep":true}}"#, "JOB_INVALID_FIELD"),
            ]
            for (_, json, _) in cases { try await probe.push(json) }
            try await probe.push(bytes: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])   // invalid UTF-8
            try await probe.push(#"{"id":"fine","type":"noop"}"#)
            let settled = await eventually(.seconds(60)) {
                let fine = try await probe.queue.record(id: "fine")?.state == .completed
                let dead = try await probe.queue.counts().dead
                return fine && dead == cases.count + 1
            }
            let counts = try await probe.queue.counts()
            #expect(settled, "\(counts)")
            let dead = try await probe.queue.deadJobs(limit: 200)
            #expect(dead.count == cases.count + 1)
            for record in dead {
                #expect(record.errorCode?.isEmpty == false && record.errorMessage?.isEmpty == false, "\(record.fields)")
            }
            let codes = Set(dead.compactMap(\.errorCode))
            #expect(codes.isSuperset(of: ["JOB_INVALID_JSON", "JOB_INVALID_NOTIFICATION", "JOB_TOO_DEEP", "JOB_TOO_LARGE", "JOB_INVALID_UTF8"]), "\(codes)")
            for (id, _, code) in cases where !id.isEmpty {
                let record = try await probe.queue.record(id: id)
                #expect(record?.state == .dead && record?.errorCode == code, "\(id): \(String(describing: record?.state)) \(record?.errorCode ?? "-"): \(record?.errorMessage ?? "")")
            }
            #expect(try worker.get("/healthz").status == 200)
            #expect(!FileManager.default.fileExists(atPath: root + "/out"), "a refused job wrote outputs")
        }
    }

    /// Malformed media: truncations inside the container header at seeded random offsets, bit
    /// flips in box types and sizes, wrong extensions, playlists and concat lists pointing
    /// elsewhere (`concat:`, `subfile:`, `http://`, nested playlists), and the bad fixtures.
    static func malformedMedia(into directory: String) throws -> [String] {
        var names: [String] = []
        func write(_ name: String, _ data: Data) throws {
            try data.write(to: URL(fileURLWithPath: directory + "/" + name))
            names.append(name)
        }
        var generator = SeededGenerator(seed: 20261121)
        for fixture in ["h264-aac-1080p30-10s.mp4", "short-0.5s.mp4", "audio-only.m4a", "portrait-rotate90.mp4"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: try ProjectPaths.fixture(fixture)))
            let moovEnd = Self.moovEnd(data)
            for cut in 0..<4 {
                let offset = Int.random(in: 1..<moovEnd, using: &generator)
                try write("cut\(cut)-\(offset)-\(fixture)", data.prefix(offset))
            }
            // The moov box's type with one bit flipped, and the ftyp size made absurd.
            if let moov = data.range(of: Data("moov".utf8)) {
                var flipped = data
                flipped[moov.lowerBound + Int.random(in: 0..<4, using: &generator)] ^= 1 << UInt8.random(in: 0..<7, using: &generator)
                try write("flip-moov-\(fixture)", flipped.prefix(moovEnd))
            }
            var sized = data
            sized[0] = 0x7F
            try write("flip-size-\(fixture)", sized)
        }
        try write("text.mp4", Data("just some text, not a video\n".utf8))
        try write("text.png", Data("<html>not an image</html>\n".utf8))
        try write("riff-junk.wav", Data("RIFF\u{10}\0\0\0WAVEfmt ".utf8) + Data((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        try write("png-cut.png", try Data(contentsOf: URL(fileURLWithPath: try ProjectPaths.fixture("still-alpha.png"))).prefix(24))
        try write("nested.m3u8", Data("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nother.m3u8\n".utf8))
        try write("concat.txt", Data("ffconcat version 1.0\nfile /etc/passwd\n".utf8))
        try write("subfile.m3u8", Data("#EXTM3U\n#EXTINF:1,\nsubfile:,start,0,end,100,:/etc/passwd\n#EXT-X-ENDLIST\n".utf8))
        try write("http.m3u8", Data("#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n".utf8))
        try write("sdp.sdp", Data("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 9 RTP/AVP 96\na=rtpmap:96 H264/90000\n".utf8))
        for bad in ["bad-zero-bytes.mp4", "bad-truncated-no-moov.mp4", "bad-random-bytes.mp4", "bad-text-file.mp4",
                    "bad-disguised-playlist.mp4", "bad-absurd-dimensions.png"] {
            try write(bad, try Data(contentsOf: URL(fileURLWithPath: try ProjectPaths.fixture(bad))))
        }
        return names
    }

    /// Where an MP4's moov box ends (truncating anywhere before it leaves no complete header).
    static func moovEnd(_ data: Data) -> Int {
        var offset = 0
        while offset + 8 <= data.count {
            let size = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: data[offset + 4..<offset + 8], as: UTF8.self)
            if size < 8 { break }
            if type == "moov" { return min(data.count, offset + size) }
            offset += size
        }
        return data.count
    }

    @Test("39 malformed media files through thumbnail jobs: each dead with a MEDIA_ code, no outputs, the worker keeps serving")
    func malformedMedia() async throws {
        try await withWorker { worker, probe, directory in
            let raw = directory.appendingPathComponent("storage/raw").path
            let names = try Self.malformedMedia(into: raw)
            #expect(names.count >= 30)
            let out = "file://" + directory.appendingPathComponent("storage/out/").path
            for (index, name) in names.enumerated() {
                try await probe.push(#"{"id":"m\#(index)","type":"thumbnails","max_attempts":1,"file_id":"m\#(index)","input":{"url":"file://\#(raw)/\#(name)"},"output":{"url":"\#(out)"},"options":{"count":1}}"#)
            }
            try await probe.push(#"{"id":"fine","type":"noop"}"#)
            let settled = await eventually(.seconds(120)) {
                let counts = try await probe.queue.counts()
                return counts.dead + counts.completed == names.count + 1
            }
            let counts = try await probe.queue.counts()
            #expect(settled, "\(counts)")
            for (index, name) in names.enumerated() {
                let record = try await probe.queue.record(id: "m\(index)")
                #expect(record?.state == .dead && record?.errorCode?.hasPrefix("MEDIA_") == true && record?.errorMessage?.isEmpty == false,
                        "\(name): \(String(describing: record?.state)) \(record?.errorCode ?? "-") \(record?.errorMessage ?? "")")
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("storage/out/m\(index)").path), "\(name) left outputs")
            }
            #expect(try await probe.queue.record(id: "fine")?.state == .completed)
            #expect(try worker.get("/healthz").status == 200)
        }
    }
}
