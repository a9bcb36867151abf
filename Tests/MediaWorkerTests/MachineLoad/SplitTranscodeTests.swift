import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// One long video across the pool: a 90 s source split into 30 s chunks over 3 worker
/// processes, one of them SIGKILLed in the middle of a chunk. Judged against the one-pass
/// package of the same source: the same frames at the same times, every join included, and
/// per-segment PSNR within 0.5 dB.
@Suite("Split transcodes across the pool", .serialized)
struct SplitTranscodeTests {
    static let settings = ["MW_LEASE_S": "2", "MW_RETRY_BASE_S": "0.05", "MW_RETRY_CAP_S": "0.2", "MW_GRACE_S": "1"]

    static func job(_ id: String, file: String, input: String, output: String, split: String) -> String {
        #"{"id":"\#(id)","type":"transcode","file_id":"\#(file)","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"#
            + #""options":{"renditions":[360,234],"thumbnails":2,"storyboard":true,"split":\#(split)}}"#
    }

    /// Frame times of a rendition (its playlist read by ffprobe's HLS demuxer).
    static func frameTimes(_ playlist: String) async throws -> [String] {
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffprobe", package: "ffmpeg"), [
            "-v", "error", "-allowed_extensions", "ALL", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "csv=p=0", playlist,
        ], timeout: .seconds(120))
        #expect(result.succeeded, "\(result.stderr)")
        // The time alone (a frame with side data, such as x264's SEI on a chunk's first frame, gets more columns).
        return result.stdout.split(separator: "\n").map { String($0.split(separator: ",").first ?? "") }
    }

    /// PSNR (Y) of every frame of a rendition against the source scaled to its size.
    static func psnrPerFrame(_ playlist: String, source: String, width: Int, height: Int, directory: URL) async throws -> [Double] {
        let stats = directory.appendingPathComponent("psnr-\(UUID().uuidString.prefix(6)).log").path
        let result = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
            "-v", "error", "-allowed_extensions", "ALL", "-i", playlist, "-i", source, "-lavfi",
            "[1:v]fps=30,scale=\(width):\(height)[ref];[0:v][ref]psnr=stats_file=\(stats)", "-f", "null", "-",
        ], timeout: .seconds(300))
        #expect(result.succeeded, "\(result.stderr)")
        let text = try String(contentsOfFile: stats, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("mse_y:") }.flatMap { Double($0.dropFirst(6)) }
        }
    }

    /// The 90 s sync source copied into the storage root, and the output folder's URL.
    static func stageSource(in directory: URL) throws -> (source: String, output: String) {
        let raw = directory.appendingPathComponent("storage/raw")
        try FileManager.default.createDirectory(at: raw, withIntermediateDirectories: true)
        let source = raw.appendingPathComponent("long.mp4").path
        try FileManager.default.copyItem(atPath: try ProjectPaths.fixture("sync-90s.mp4"), toPath: source)
        return (source, "file://" + directory.appendingPathComponent("storage/out/").path)
    }

    struct Pool {
        var directory: URL
        var source: String
        var output: String
        var redisURL: String
        var probe: QueueProbe
        var workers: [WorkerProcess]
    }

    /// A staged source, a private redis-server and `count` ready worker processes (SIGKILLed at the end).
    static func withPool(
        _ name: String, workers count: Int, id: String,
        _ body: (Pool) async throws -> Void
    ) async throws {
        let directory = try makeTestDirectory(name)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (source, output) = try stageSource(in: directory)
        try await RedisServer.with { redis in
            let probe = try QueueProbe(redisURL: redis.url)
            var workers: [WorkerProcess] = []
            defer { for worker in workers { worker.process.signal(SIGKILL) } }
            for index in 0..<count { workers.append(try WorkerProcess.start(redisURL: redis.url, id: "\(id)-\(index)", directory: directory, environment: settings)) }
            for worker in workers { #expect(await worker.waitUntilReady(), "\(worker.logText)") }
            try await body(Pool(directory: directory, source: source, output: output, redisURL: redis.url, probe: probe, workers: workers))
        }
    }

    static func segmentPSNR(_ mse: [Double], fps: Double = 30, segment: Double = 6) -> [Double] {
        let perSegment = Int(fps * segment)
        return stride(from: 0, to: mse.count, by: perSegment).map { start in
            let slice = mse[start..<min(start + perSegment, mse.count)]
            let mean = slice.reduce(0, +) / Double(slice.count)
            return mean > 0 ? 10 * log10(255 * 255 / mean) : 100
        }
    }

    @Test("a 90 s source in 30 s chunks over 3 workers, one SIGKILLed mid-chunk: one TranscodeCompleted, the same frames as one pass, PSNR within 0.5 dB")
    func splitAcrossWorkers() async throws {
        try await Self.withPool("split", workers: 3, id: "split") { pool in
            let (directory, source, output, probe, workers) = (pool.directory, pool.source, pool.output, pool.probe, pool.workers)
            try await probe.push(Self.job("long", file: "long", input: "file://" + source, output: output, split: #"{"chunk_s":30}"#))

            // Kill the worker of a chunk that is well under way.
            var killed: (part: String, worker: String)?
            #expect(await eventually(.seconds(60), every: .milliseconds(100)) {
                for part in try await probe.queue.parts(of: "long") where part.asset != "audio" && part.state == .active {
                    let record = try await probe.queue.record(id: part.id)
                    let percent = (try? JSONSerialization.jsonObject(with: Data((record?.fields["progress"] ?? "").utf8)) as? [String: Any])?["percent"] as? Double ?? 0
                    if percent > 25, let worker = workers.first(where: { $0.id == part.worker }) {
                        worker.process.signal(SIGKILL)
                        killed = (part.id, worker.id)
                        return true
                    }
                }
                return false
            }, "no chunk got under way")
            #expect(await eventually(.seconds(240)) { try await probe.terminalEvents()["long"] != nil }, "\(workers.map(\.logText).joined())")
            let events = try await probe.events()
            #expect(try await probe.terminalEvents()["long"] == ["TranscodeCompleted"],
                    "\(events.filter { ($0["job_id"] as? String ?? "").hasPrefix("long") }.map { "\($0["type"] ?? "") \($0["data"] ?? "")" })")
            let done = try #require(events.last { $0["job_id"] as? String == "long" && $0["type"] as? String == "TranscodeCompleted" })
            let data = try #require(done["data"] as? [String: Any])
            let version = try #require(data["version"] as? String)

            // One completion per part; the killed chunk ran twice, no other more than once; two workers at least.
            let completions = events.filter { $0["job_id"] as? String == "long" && $0["type"] as? String == "TranscodeChunkCompleted" }
            let assets = completions.compactMap { ($0["data"] as? [String: Any])?["asset_id"] as? String }
            #expect(assets.sorted() == ["0", "1", "2", "audio"], "\(assets)")
            #expect(Set(completions.compactMap { $0["worker_id"] as? String }).count >= 2)
            let parts = try await probe.queue.parts(of: "long")
            let killedPart = try #require(killed?.part)
            for part in parts {
                #expect(part.state == .completed)
                #expect(part.attempts == (part.id == killedPart ? 2 : 1), "\(part.id): \(part.attempts) attempts")
            }
            #expect(events.contains { $0["type"] as? String == "TranscodeSplit" && $0["job_id"] as? String == "long" })
            // Its progress was the sum of its parts'; `status` lists the parts with their states and workers.
            let progress = events.filter { $0["job_id"] as? String == "long" && $0["type"] as? String == "JobProgress" }
                .compactMap { ($0["data"] as? [String: Any])?["chunks"] as? Int }
            #expect(progress.contains(4))
            let status = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["status", "long"], environment: ["MW_REDIS_URL": pool.redisURL])
            #expect(status.succeeded && status.stdout.contains(#""parts":["#) && status.stdout.contains(#""asset_id":"audio""#), "\(status.stdout)")
            let documents = events.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
            for (document, verdict) in zip(documents, try await ContractTests.validate(documents, schema: "event.schema.json")) {
                #expect(verdict == "ok", "\(verdict): \(document)")
            }

            // The published package: the judge (keyframes aligned, segments, A/V sync at every second, joins included).
            let base = directory.appendingPathComponent("storage/out/long").path
            // 90 s of two rungs, every segment probed and the sync measured each second: minutes on a loaded machine.
            let verdict = try await judgeHLS(base + "/hls/master.m3u8", sync: true, timeout: .seconds(900))
            // GStreamer plays the stitched package to its end over HTTP, across every join.
            let played = try await playInGStreamer(root: directory.appendingPathComponent("storage").path, master: "out/long/hls/master.m3u8")
            #expect(played.ok, "\(played.report)")
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")

            // The same source in one pass, for comparison.
            try await probe.push(Self.job("whole", file: "whole", input: "file://" + source, output: output, split: #""off""#))
            #expect(await eventually(.seconds(240)) { try await probe.terminalEvents()["whole"] == ["TranscodeCompleted"] })
            let whole = directory.appendingPathComponent("storage/out/whole").path
            for (rung, size) in [("360p", (640, 360)), ("234p", (416, 234))] {
                let chunked = try await Self.frameTimes(base + "/v/\(version)/hls/\(rung)/index.m3u8")
                let reference = try await Self.frameTimes(whole + "/hls/master.m3u8".replacingOccurrences(of: "master.m3u8", with: "") + "../v/" +
                    (try FileManager.default.contentsOfDirectory(atPath: whole + "/v").first ?? "") + "/hls/\(rung)/index.m3u8")
                let differing = zip(chunked, reference).enumerated().filter { $0.element.0 != $0.element.1 }
                #expect(chunked.count == 2700 && chunked == reference,
                        "\(rung): \(chunked.count) frames against \(reference.count); \(differing.count) differ, first \(differing.prefix(5).map { "#\($0.offset): \($0.element.0) vs \($0.element.1)" })")
                let split = Self.segmentPSNR(try await Self.psnrPerFrame(base + "/v/\(version)/hls/\(rung)/index.m3u8", source: source,
                                                                         width: size.0, height: size.1, directory: directory))
                let onePass = Self.segmentPSNR(try await Self.psnrPerFrame(whole + "/v/" + (try FileManager.default.contentsOfDirectory(atPath: whole + "/v").first ?? "")
                                                                           + "/hls/\(rung)/index.m3u8", source: source, width: size.0, height: size.1,
                                                                           directory: directory))
                #expect(split.count == 15 && onePass.count == 15)
                for (index, (a, b)) in zip(split, onePass).enumerated() {
                    #expect(abs(a - b) <= 0.5, "\(rung) segment \(index): \(a) dB split, \(b) dB one pass")
                }
            }
            await probe.queue.client.close()
        }
    }

    @Test("cancelling a split job stops its parts: one TranscodeCanceled, nothing left once the janitor has run")
    func cancelSplit() async throws {
        try await Self.withPool("split-cancel", workers: 2, id: "cancel") { pool in
            let (directory, source, output, probe) = (pool.directory, pool.source, pool.output, pool.probe)
            try await probe.push(Self.job("c", file: "c", input: "file://" + source, output: output, split: #"{"chunk_s":12}"#))
            #expect(await eventually(.seconds(60)) { try await probe.queue.parts(of: "c").filter { $0.state == .completed }.count >= 2 })
            #expect(try await probe.queue.cancel(id: "c") == .canceled)
            #expect(await eventually(.seconds(30)) {
                let parts = try await probe.queue.parts(of: "c")
                let active = try await probe.queue.counts().active
                return parts.allSatisfy { $0.state == .completed || $0.state == .canceled } && active == 0
            })
            #expect(try await probe.terminalEvents()["c"] == ["TranscodeCanceled"])
            // The version the parts filled is trash; the janitors leave nothing of the job.
            let files = directory.appendingPathComponent("storage/out/c").path
            #expect(await eventually(.seconds(30)) {
                try await probe.queue.client.command(["ZCARD", probe.queue.keyBase + "trash"]).integer == 0 && !FileManager.default.fileExists(atPath: files)
            }, "\((FileManager.default.enumerator(atPath: files)?.allObjects as? [String] ?? []).prefix(5))")
            await probe.queue.client.close()
        }
    }
}
