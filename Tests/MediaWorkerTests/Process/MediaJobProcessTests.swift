import Foundation
import TestSupport
import Testing

/// The media job types run by a worker process against local storage (`file://`).
@Suite("Media jobs in a worker process", .serialized)
struct MediaJobProcessTests {
    func withWorker(_ body: (WorkerProcess, QueueProbe, URL) async throws -> Void) async throws {
        // A temp folder left by a worker that crashed: the next start removes it.
        let stale = "tmp/mw-crashed-worker/job-x"
        try await MediaWorkerTests.withWorker(folder: "media-jobs", prepare: { directory in
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(stale), withIntermediateDirectories: true)
        }) { worker, probe, directory in
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(stale).path), "a crashed worker's temp folder is left")
            try await body(worker, probe, directory)
        }
    }

    func copyFixture(_ name: String, to directory: URL, as target: String) throws -> String {
        let path = directory.appendingPathComponent("storage/raw/" + target).path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: try ProjectPaths.fixture(name), toPath: path)
        return "file://" + path
    }

    func events(_ probe: QueueProbe, job: String) async throws -> [[String: Any]] {
        try await probe.events().filter { $0["job_id"] as? String == job }
    }

    /// Every event of the run against contracts/event.schema.json (Python jsonschema).
    func expectValidEvents(_ probe: QueueProbe) async throws {
        let documents = try await probe.events().map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let verdicts = try await ContractTests.validate(documents, schema: "event.schema.json")
        #expect(verdicts.count == documents.count)
        for (document, verdict) in zip(documents, verdicts) { #expect(verdict == "ok", "\(verdict): \(document)") }
    }

    @Test("transcode: HLS ladder, poster, thumbnails and storyboard uploaded into a version under <output>/<file_id>/v/, the stable master written last, one TranscodeCompleted")
    func transcode() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("h264-aac-1080p30-10s.mp4", to: directory, as: "file-555.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"t1","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"movie_id":"movie-101","metadata":{"trace":"abc"},"options":{"renditions":[360,234],"thumbnails":3}}"#)
            // /status shows the running job with its progress.
            #expect(await eventually(.seconds(30)) {
                let body = try worker.get("/status").body
                return body.contains("\"id\":\"t1\"") && body.contains("\"type\":\"transcode\"") && body.contains("\"percent\"")
            })
            #expect(await eventually(.seconds(90)) { try await probe.terminalEvents()["t1"] != nil }, "\(worker.logText)")
            #expect(try await probe.terminalEvents()["t1"] == ["TranscodeCompleted"])
            let all = try await events(probe, job: "t1")
            let done = try #require(all.first { $0["type"] as? String == "TranscodeCompleted" })
            #expect(done["file_id"] as? String == "file-555")
            #expect(done["meta_movie_id"] as? String == "movie-101")
            #expect((done["metadata"] as? [String: Any])?["trace"] as? String == "abc")
            let data = try #require(done["data"] as? [String: Any])
            let renditions = try #require(data["renditions"] as? [[String: Any]])
            #expect(Set(renditions.compactMap { $0["resolution"] as? String }) == ["640x360", "416x234"])
            // Quality control on by default: the fixture has no black, frozen or silent stretch.
            let qc = try #require(data["qc"] as? [String: Any])
            #expect((qc["black"] as? [Any])?.isEmpty == true && (qc["frozen"] as? [Any])?.isEmpty == true
                    && (qc["silence"] as? [Any])?.isEmpty == true, "\(qc)")
            let outputs = try #require(data["outputs"] as? [String: Any])
            let master = try #require(outputs["hls_master"] as? String)
            #expect(master == output + "/file-555/hls/master.m3u8")
            // The one URL that outlives a re-run, said so in the event.
            #expect(data["stable_urls"] as? [String] == [master])
            let version = try #require(data["version"] as? String)
            #expect(data["version_url"] as? String == output + "/file-555/v/\(version)/")
            #expect(outputs["hls_master_version"] as? String == output + "/file-555/v/\(version)/hls/master.m3u8")
            #expect((outputs["poster"] as? [String: Any])?["url"] as? String == output + "/file-555/v/\(version)/poster.jpg")
            let base = directory.appendingPathComponent("storage/media/file-555").path
            for file in ["hls/master.m3u8", "hls/360p/index.m3u8", "hls/audio/index.m3u8", "poster.jpg", "storyboard.jpg", "storyboard.vtt",
                         "thumbnails/thumbnail-0002.jpg"] {
                #expect(FileManager.default.fileExists(atPath: base + "/v/\(version)/" + file), "missing \(file)")
            }
            // Outside the version only the stable master, pointing into it.
            let stable = try String(contentsOfFile: base + "/hls/master.m3u8", encoding: .utf8)
            #expect(stable.contains("../v/\(version)/hls/360p/index.m3u8") && stable.contains("URI=\"../v/\(version)/hls/audio/index.m3u8\""), "\(stable)")
            let everything = (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? []).filter { !$0.hasPrefix("v") }
            #expect(Set(everything) == ["hls", "hls/master.m3u8"], "\(everything)")
            let verdict = try await judgeHLS(base + "/hls/master.m3u8")
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            // Progress events at most one a second; the job's temp folder is gone.
            let progress = all.filter { $0["type"] as? String == "JobProgress" }.compactMap { $0["occurred_at"] as? String }
            #expect(!progress.isEmpty)
            let times = progress.compactMap { try? Date($0, strategy: .iso8601.year().month().day().timeSeparator(.colon).time(includingFractionalSeconds: true)) }
            for (earlier, later) in zip(times, times.dropFirst()) { #expect(later.timeIntervalSince(earlier) >= 0.99) }
            let jobs = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("tmp/mw-\(worker.id)").path)
            #expect(jobs.filter { $0.hasPrefix("job-") }.isEmpty)
            try await expectValidEvents(probe)
            let status = try JSONSerialization.jsonObject(with: Data(try worker.get("/status").body.utf8)) as? [String: Any]
            #expect(status?["worker_id"] as? String == worker.id)
            #expect((status?["uptime_s"] as? Double ?? 0) > 0)
            #expect((status?["jobs"] as? [Any])?.isEmpty == true)
            let metrics = try worker.get("/metrics").body
            for name in [#"mw_jobs_total{type="transcode",outcome="completed"} 1"#, #"mw_storage_bytes_total{direction="in"}"#,
                         #"mw_storage_bytes_total{direction="out"}"#, "mw_encode_speed_realtime", #"mw_queue_jobs{queue="default",state="waiting"}"#,
                         "mw_jobs_in_flight", "mw_job_duration_seconds_bucket", "mw_redis_reconnects_total"] {
                #expect(metrics.contains(name), "no \(name) in /metrics")
            }
        }
    }

    @Test("transcode with codecs, DASH, every audio language and a sidecar, in one pass and split into parts: TranscodeCompleted names the per-codec masters, the DASH manifests and the subtitles, and validates; a missing language is refused")
    func transcodeTracks() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("tracks-12s.mkv", to: directory, as: "tracks.mkv")
            let sidecar = try copyFixture("subs-fr.srt", to: directory, as: "tracks.fr.srt")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"m1","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"renditions":[234],"codecs":["hevc"],"dash":true,"subtitles":[{"url":"\#(sidecar)","language":"fra","name":"Français (sidecar)"}],"thumbnails":1,"storyboard":false}}"#)
            try await probe.push(#"{"id":"m2","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"audio_tracks":["deu"]}}"#)
            // The same split into two chunks run as parts (issue 13), AV1 beside H.264.
            try await probe.push(#"{"id":"m3","type":"transcode","file_id":"tracks-split","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"renditions":[234],"codecs":["av1"],"dash":true,"split":{"chunk_s":6},"subtitles":[{"url":"\#(sidecar)","language":"fra"}],"thumbnails":1,"storyboard":false}}"#)
            #expect(await eventually(.seconds(240)) {
                let ended = try await probe.terminalEvents()
                return ended["m1"] != nil && ended["m2"] != nil && ended["m3"] != nil
            }, "\(worker.logText)")
            #expect(try await probe.terminalEvents()["m1"] == ["TranscodeCompleted"])
            #expect(try await probe.terminalEvents()["m2"] == ["TranscodeFailed"])
            let done = try #require(try await events(probe, job: "m1").first { $0["type"] as? String == "TranscodeCompleted" })
            let data = try #require(done["data"] as? [String: Any])
            let outputs = try #require(data["outputs"] as? [String: Any])
            let version = try #require(data["version"] as? String)
            let prefix = output + "/tracks/v/\(version)/hls/"
            #expect(outputs["hls_codec_masters"] as? [String: String] == ["h264": prefix + "master-h264.m3u8", "hevc": prefix + "master-hevc.m3u8"])
            #expect(outputs["dash_manifest"] as? String == prefix + "manifest.mpd")
            #expect((outputs["dash_codec_manifests"] as? [String: String])?.keys.sorted() == ["h264", "hevc"])
            let subtitles = try #require(outputs["subtitles"] as? [[String: Any]])
            #expect(subtitles.map { $0["name"] as? String } == ["English", "Français (sidecar)"])
            #expect(subtitles.map { $0["cues"] as? Int } == [3, 2])
            let renditions = try #require(data["renditions"] as? [[String: Any]])
            #expect(renditions.filter { $0["kind"] as? String == "audio" }.count == 2)
            #expect(Set(renditions.compactMap { ($0["codecs"] as? String)?.prefix(4) }) == ["avc1", "hvc1", "mp4a"])
            let failed = try #require(try await events(probe, job: "m2").first { $0["type"] as? String == "TranscodeFailed" })
            #expect((failed["data"] as? [String: Any])?["error_code"] as? String == "JOB_INVALID_FIELD")
            let base = directory.appendingPathComponent("storage/media/tracks").path
            let verdict = try await judgeHLS(base + "/hls/master.m3u8")
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            let dash = try await judgeDASH(base + "/v/\(version)/hls/manifest.mpd")
            #expect(dash.errors.isEmpty, "\(dash.errors)")

            #expect(try await probe.terminalEvents()["m3"] == ["TranscodeCompleted"])
            let split = try #require(try await events(probe, job: "m3").first { $0["type"] as? String == "TranscodeCompleted" })
            let splitData = try #require(split["data"] as? [String: Any])
            #expect((splitData["split"] as? [String: Any])?["chunks"] as? Int == 2)
            let splitOutputs = try #require(splitData["outputs"] as? [String: Any])
            #expect((splitOutputs["subtitles"] as? [[String: Any]])?.compactMap { $0["language"] as? String } == ["eng", "fra"])
            #expect((splitOutputs["dash_codec_manifests"] as? [String: String])?.keys.sorted() == ["av1", "h264"])
            let splitVersion = try #require(splitData["version"] as? String)
            let splitBase = directory.appendingPathComponent("storage/media/tracks-split").path
            let stitched = try await judgeHLS(splitBase + "/hls/master.m3u8")
            #expect(stitched.errors.isEmpty, "\(stitched.errors)")
            let periods = try await judgeDASH(splitBase + "/v/\(splitVersion)/hls/manifest.mpd")
            #expect(periods.errors.isEmpty && periods.facts.periods == 2, "\(periods.errors)")
            try await expectValidEvents(probe)
        }
    }

    @Test("transcode QC and waveform: black, frozen and silent stretches in data.qc, the same in one pass and split into parts (a run across a chunk edge joined); the waveform as audiowaveform JSON, its peaks those an independent judge computes; the animated WebP (one pass) and GIF (split) read back with Pillow; qc false leaves QC out")
    func qualityControl() async throws {
        try await withWorker { _, probe, directory in
            let source = try await QualityControlTests.makeSource(in: directory.appendingPathComponent("storage/raw").path)
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            for (id, options) in [("qc-one", #"{"renditions":[234],"split":"off","preview":{"waveform":true,"format":"webp"}}"#),
                                  ("qc-split", #"{"renditions":[234],"split":{"chunk_s":6},"thumbnails":1,"preview":{"waveform":{"pixels_per_second":50,"bits":16},"format":"gif","excerpts":3,"excerpt_s":1,"fps":8,"width":160}}"#),
                                  ("qc-off", #"{"renditions":[234],"qc":false}"#)] {
                try await probe.push(#"{"id":"\#(id)","type":"transcode","input":{"url":"file://\#(source)"},"output":{"url":"\#(output)"},"options":\#(options)}"#)
            }
            #expect(await eventually(.seconds(240)) { try await probe.terminalEvents().count == 3 })
            for id in ["qc-one", "qc-split"] {
                let done = try #require(try await events(probe, job: id).first { $0["type"] as? String == "TranscodeCompleted" })
                let qc = try #require((done["data"] as? [String: Any])?["qc"] as? [String: [[String: Double]]], "\(id): \(done)")
                func near(_ kind: String, _ start: Double, _ end: Double, _ tolerance: Double) {
                    let runs = qc[kind] ?? []
                    #expect(runs.count == 1 && abs((runs.first?["start_s"] ?? -9) - start) <= tolerance
                            && abs((runs.first?["end_s"] ?? -9) - end) <= tolerance, "\(id) \(kind): \(runs)")
                }
                near("frozen", 2, 5, QualityControlTests.frame)
                near("black", 5, 8, QualityControlTests.frame)
                near("silence", 8, 11, 0.01)
                // The waveform: audiowaveform's format, the peaks an independent judge computes from the source.
                let waveform = try #require(((done["data"] as? [String: Any])?["outputs"] as? [String: Any])?["waveform"] as? [String: Any])
                let file = try #require((waveform["url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
                #expect(waveform["pixels_per_second"] as? Double == (id == "qc-one" ? 100 : 50) && waveform["bits"] as? Int == (id == "qc-one" ? 8 : 16))
                let verdict = try await judgeWaveform(file, source: source, tolerance: id == "qc-one" ? 1 : 200)
                #expect((verdict["format_errors"] as? [String])?.isEmpty == true && verdict["mismatches"] as? Int == 0
                        && verdict["length"] as? Int == verdict["expected_length"] as? Int, "\(id): \(verdict)")
                // The animated preview, read back with Pillow: its frames, their durations, its size, looping.
                let preview = try #require(((done["data"] as? [String: Any])?["outputs"] as? [String: Any])?["preview"] as? [String: Any])
                let webp = try #require((preview["url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
                let read = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                       [ProjectPaths.scripts.appendingPathComponent("test/webp_info.py").path, webp])
                let facts = (try? JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any]) ?? [:]
                let (frames, milliseconds, width, height) = id == "qc-one" ? (60, 6000, 320, 180) : (24, 3000, 160, 90)
                // libwebp shows a run of identical pictures (the frozen and black stretches) as one longer frame; the
                // split job asks for a GIF (a palette per frame).
                let format = id == "qc-one" ? "WEBP" : "GIF"
                #expect(webp.hasSuffix(id == "qc-one" ? "/preview.webp" : "/preview.gif") && preview["format"] as? String == format.lowercased())
                #expect(facts["format"] as? String == format && (2...frames).contains(facts["frames"] as? Int ?? 0) && facts["loop"] as? Int == 0
                        && abs((facts["duration_ms"] as? Int ?? 0) - milliseconds) <= 200
                        && facts["width"] as? Int == width && facts["height"] as? Int == height, "\(id): \(facts) \(read.stderr)")
                #expect(preview["frames"] as? Int == frames && preview["width"] as? Int == width)
            }
            let off = try #require(try await events(probe, job: "qc-off").first { $0["type"] as? String == "TranscodeCompleted" })
            #expect((off["data"] as? [String: Any])?["qc"] == nil)
            try await expectValidEvents(probe)
        }
    }

    @Test("a stream-copied transcode still gets its animated preview (read from the input, since the copy decodes nothing), named in outputs.preview and read back with Pillow")
    func previewOfAStreamCopy() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("h264-aac-1080p30-10s.mp4", to: directory, as: "copied.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"pc","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"renditions":[1080],"packaging":"copy","preview":{"format":"webp"}}}"#)
            #expect(await eventually(.seconds(90)) { try await probe.terminalEvents()["pc"] != nil }, "\(worker.logText)")
            let done = try #require(try await events(probe, job: "pc").first { $0["type"] as? String == "TranscodeCompleted" })
            let data = try #require(done["data"] as? [String: Any])
            #expect(data["stream_copied"] as? Bool == true)
            let preview = try #require((data["outputs"] as? [String: Any])?["preview"] as? [String: Any], "\(data)")
            #expect(preview["frames"] as? Int == 60 && preview["width"] as? Int == 320 && preview["format"] as? String == "webp")
            let file = try #require((preview["url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
            let read = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                   [ProjectPaths.scripts.appendingPathComponent("test/webp_info.py").path, file])
            let facts = (try? JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any]) ?? [:]
            #expect(facts["format"] as? String == "WEBP" && abs((facts["duration_ms"] as? Int ?? 0) - 6000) <= 200, "\(facts) \(read.stderr)")
            try await expectValidEvents(probe)
        }
    }

    @Test("transcode loudness: a quiet source brought to -16 LUFS in one pass and to EBU R128's -23 LUFS split into parts, within 0.5 LU and under the true-peak ceiling by pyloudnorm's measure; one whose peaks one gain would push over the ceiling gets a limiter (dynamic) and still reaches the target, or with dynamic false is held back; TranscodeCompleted reports input, output and gain")
    func loudness() async throws {
        try await withWorker { _, probe, directory in
            let source = directory.appendingPathComponent("storage/raw/quiet.mp4").path
            let made = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=13", "-f", "lavfi",
                "-i", "sine=f=440:r=48000:d=13,volume=-14dB", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k",
                "-shortest", source], timeout: .seconds(120))
            #expect(made.succeeded, "\(made.stderr)")
            let judge = { (path: String) async throws -> [String: Any] in
                let result = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                         [ProjectPaths.scripts.appendingPathComponent("test/loudness_judge.py").path, path],
                                                         timeout: .seconds(120))
                #expect(result.succeeded, "\(result.stderr)")
                return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
            }
            let before = try await judge(source)
            // Quiet but for clicks that carry most of its loudness: one gain to -16 LUFS would put them 20 dB over the ceiling.
            let spiky = directory.appendingPathComponent("storage/raw/spiky.mp4").path
            let clicks = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=13", "-f", "lavfi",
                "-i", "aevalsrc='0.02*sin(2*PI*440*t)+0.9*lt(mod(t,0.5),0.002)*sin(2*PI*3000*t)':s=48000:d=13",
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", spiky], timeout: .seconds(120))
            #expect(clicks.succeeded, "\(clicks.stderr)")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            let jobs = [("loud-one", #"{"renditions":[234],"split":"off","mp4":[234],"audio":{"loudness":{"target_lufs":-16,"true_peak_db":-1}}}"#, -16.0),
                        ("loud-split", #"{"renditions":[234],"split":{"chunk_s":6},"thumbnails":1,"audio":{"layout":"shared","loudness":"ebu_r128"}}"#, -23.0)]
            for (id, options, _) in jobs {
                try await probe.push(#"{"id":"\#(id)","type":"transcode","input":{"url":"file://\#(source)"},"output":{"url":"\#(output)"},"options":\#(options)}"#)
            }
            for (id, dynamic) in [("loud-dynamic", true), ("loud-held", false)] {
                try await probe.push(#"{"id":"\#(id)","type":"transcode","input":{"url":"file://\#(spiky)"},"output":{"url":"\#(output)"},"options":{"renditions":[234],"split":"off","audio":{"loudness":{"target_lufs":-16,"true_peak_db":-1,"dynamic":\#(dynamic)}}}}"#)
            }
            #expect(await eventually(.seconds(240)) { try await probe.terminalEvents().count == 4 })
            // Dynamic correction only when it must: the clicks held under the ceiling by a limiter, the
            // target reached (measured before the encode, and by pyloudnorm after); without it, one gain held back.
            for id in ["loud-dynamic", "loud-held"] {
                let done = try #require(try await events(probe, job: id).first { $0["type"] as? String == "TranscodeCompleted" }, "\(id)")
                let report = try #require((done["data"] as? [String: Any])?["loudness"] as? [String: Any])
                let rendition = try #require((report["renditions"] as? [[String: Any]])?.first)
                let version = try #require(((done["data"] as? [String: Any])?["version_url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
                let after = try await judge(version + "hls/audio/index.m3u8")
                #expect((after["true_peak_db"] as? Double ?? 0) <= -1, "\(id): \(after)")
                if id == "loud-dynamic" {
                    #expect(report["method"] as? String == "linear+limiter" && rendition["dynamic"] as? Bool == true && rendition["limited_by_true_peak"] as? Bool == false, "\(report)")
                    #expect(abs((after["integrated_lufs"] as? Double ?? 0) + 16) <= 0.5, "\(id): \(after)")
                    let measured = try #require((rendition["output"] as? [String: Any])?["integrated_lufs"] as? Double)
                    #expect(abs(measured - (after["integrated_lufs"] as? Double ?? 0)) <= 0.5, "reported \(measured), judged \(after)")
                } else {
                    #expect(report["method"] as? String == "linear" && rendition["limited_by_true_peak"] as? Bool == true, "\(report)")
                    #expect((after["integrated_lufs"] as? Double ?? 0) < -17, "held back: quieter than the target: \(after)")
                }
            }
            for (id, _, target) in jobs {
                let done = try #require(try await events(probe, job: id).first { $0["type"] as? String == "TranscodeCompleted" })
                let data = try #require(done["data"] as? [String: Any])
                let report = try #require(data["loudness"] as? [String: Any], "\(id): \(data.keys)")
                let rendition = try #require((report["renditions"] as? [[String: Any]])?.first)
                let input = try #require(rendition["input"] as? [String: Any])
                #expect(abs((input["integrated_lufs"] as? Double ?? 0) - (before["integrated_lufs"] as? Double ?? 99)) < 0.5, "\(id): \(input) \(before)")
                #expect(report["target_lufs"] as? Double == target && rendition["limited_by_true_peak"] as? Bool == false)
                let version = try #require((data["version_url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
                let after = try await judge(version + "hls/audio/index.m3u8")
                #expect(abs((after["integrated_lufs"] as? Double ?? 0) - target) <= 0.5, "\(id): \(after)")
                #expect((after["true_peak_db"] as? Double ?? 0) <= -1, "\(id): \(after)")
                // The MP4 rendition carries the main audio with the same correction.
                if let mp4 = (((done["data"] as? [String: Any])?["outputs"] as? [String: Any])?["mp4"] as? [[String: Any]])?.first?["url"] as? String {
                    let file = try await judge(mp4.replacingOccurrences(of: "file://", with: ""))
                    #expect(abs((file["integrated_lufs"] as? Double ?? 0) - target) <= 0.5 && (file["true_peak_db"] as? Double ?? 0) <= -1, "\(id) mp4: \(file)")
                } else {
                    #expect(id != "loud-one", "loud-one asked for an MP4 rendition")
                }
            }
            try await expectValidEvents(probe)
        }
    }

    /// `scripts/test/asr_judge.py` on the "English (auto)" rendition named in a TranscodeCompleted's outputs.
    func judgeAutoCaptions(_ outputs: [String: Any], sentences: String) async throws -> [String: Any] {
        let track = try #require((outputs["subtitles"] as? [[String: Any]])?.first { $0["name"] as? String == "English (auto)" }, "\(outputs)")
        let webvtt = String(try #require(track["webvtt"] as? String).dropFirst("file://".count))
        let judged = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                 [ProjectPaths.scripts.appendingPathComponent("test/asr_judge.py").path, webvtt, "--sentences", sentences])
        return (try? JSONSerialization.jsonObject(with: Data(judged.stdout.utf8)) as? [String: Any]) ?? ["stderr": judged.stderr]
    }

    /// A folder for `media-worker process` runs: its storage root (with `raw/`) inside.
    func processFolder(_ name: String) throws -> (URL, String) {
        let directory = try makeTestDirectory(name)
        let storage = directory.appendingPathComponent("storage").path
        try FileManager.default.createDirectory(atPath: storage + "/raw", withIntermediateDirectories: true)
        return (directory, storage)
    }

    /// `scripts/test/captions_judge.py`: cues against the scenes and the voice the ffmpeg CLI hears.
    func judgeCaptions(_ path: String, media: String, fps: Int, scenes: [[String: Any]]) async throws -> [String: Any] {
        let result = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path, [
            ProjectPaths.scripts.appendingPathComponent("test/captions_judge.py").path, path, media, "--fps", String(fps),
            "--scenes", String(decoding: try JSONSerialization.data(withJSONObject: scenes), as: UTF8.self),
        ], timeout: .seconds(120))
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? ["ok": false, "stderr": result.stderr]
    }

    /// `scripts/test/waveform_judge.py`: the waveform's format and its peaks against the source's.
    func judgeWaveform(_ path: String, source: String, tolerance: Int) async throws -> [String: Any] {
        let result = try await CommandRunner.run(ProjectPaths.venvBin.appendingPathComponent("python").path,
                                                 [ProjectPaths.scripts.appendingPathComponent("test/waveform_judge.py").path, path, source,
                                                  "--tolerance", String(tolerance)], timeout: .seconds(120))
        #expect(result.succeeded, "\(result.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    @Test("transcode with a per-title ladder: TranscodeCompleted says which rungs and why, and carries the quality report of every rung; split into parts, the chunks' measurements add up to one report")
    func transcodeQuality() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("quality-low-motion.mp4", to: directory, as: "talk.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"q1","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"ladder":"per_title","quality_sample":1,"segment_duration_s":2,"thumbnails":1,"storyboard":false}}"#)
            try await probe.push(#"{"id":"q2","type":"transcode","file_id":"talk-split","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"ladder":"per_title","target_psnr":40,"quality_sample":0.5,"segment_duration_s":2,"split":{"chunk_s":6},"thumbnails":1,"storyboard":false}}"#)
            try await probe.push(#"{"id":"q3","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"target_psnr":40}}"#)
            #expect(await eventually(.seconds(240)) {
                let ended = try await probe.terminalEvents()
                return ended["q1"] != nil && ended["q2"] != nil && ended["q3"] != nil
            }, "\(worker.logText)")
            for job in ["q1", "q2"] {
                #expect(try await probe.terminalEvents()[job] == ["TranscodeCompleted"], "\(job)")
                let done = try #require(try await events(probe, job: job).first { $0["type"] as? String == "TranscodeCompleted" })
                let data = try #require(done["data"] as? [String: Any])
                let videos = (data["renditions"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "video" }
                let ladder = try #require(data["ladder"] as? [String: Any])
                let rungs = try #require(ladder["rungs"] as? [[String: Any]])
                // Two CRFs a size; the top size a third with a target of the job's own (q2).
                #expect(ladder["mode"] as? String == "per_title" && rungs.count == videos.count
                        && (ladder["points"] as? [Any])?.count == (job == "q1" ? 6 : 7))
                #expect(["per_title", "fixed"].contains(ladder["decision"] as? String ?? ""), "\(ladder)")
                #expect(job == "q1" || ladder["decision"] as? String == "per_title", "a target of the job's own keeps its rungs")
                #expect((ladder["predicted_bitrate_total"] as? Int ?? 0) > 0 && (ladder["fixed_predicted_bitrate_total"] as? Int ?? 0) > 0)
                #expect(rungs.allSatisfy { ($0["reason"] as? String)?.isEmpty == false })
                #expect(rungs.map { $0["resolution"] as? String } == videos.map { $0["resolution"] as? String }, "\(job)")
                let quality = try #require(data["quality"] as? [String: Any])
                let measured = try #require(quality["renditions"] as? [[String: Any]])
                #expect(measured.count == videos.count)
                for rendition in measured {
                    let psnr = try #require(rendition["psnr_y"] as? Double)
                    #expect(psnr > 30 && psnr < 100, "\(job) \(rendition)")
                    #expect(rendition["segments"] as? Int == 4)
                    #expect(rendition["segments_measured"] as? Int == (job == "q1" ? 4 : 3), "\(job): 3 of the first chunk's 3 segments at 0.5 is 2, 1 of the last chunk's 1")
                    #expect(rendition["frames"] as? Int == (job == "q1" ? 240 : 180))
                    // The worst segment is named by where it is published.
                    let worst = try #require(rendition["worst_segment"] as? [String: Any])
                    let uri = try #require(worst["uri"] as? String)
                    #expect(uri.hasPrefix("file://") && FileManager.default.fileExists(atPath: String(uri.dropFirst(7))), "\(uri)")
                }
                if job == "q2" {
                    #expect((data["split"] as? [String: Any])?["chunks"] as? Int == 2)
                    #expect(ladder["target_psnr"] as? Double == 40 && ladder["target_from"] as? String == "options.target_psnr")
                }
            }
            let base = directory.appendingPathComponent("storage/media/talk-split").path
            let stitched = try await judgeHLS(base + "/hls/master.m3u8", target: 2)
            #expect(stitched.errors.isEmpty, "\(stitched.errors)")
            // A target without a per-title ladder is refused.
            #expect(try await probe.terminalEvents()["q3"] == ["TranscodeFailed"])
            let failed = try #require(try await events(probe, job: "q3").first { $0["type"] as? String == "TranscodeFailed" })
            #expect((failed["data"] as? [String: Any])?["error_code"] as? String == "JOB_INVALID_FIELD")
            try await expectValidEvents(probe)
        }
    }

    @Test("media-worker process job.json runs one job without Redis; a bad input exits 1 with its Failed event")
    func processCommand() async throws {
        let directory = try makeTestDirectory("process")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("storage/raw"), withIntermediateDirectories: true)
        let input = try copyFixture("h264-720p-noaudio.mp4", to: directory, as: "clip.mp4")
        let bad = try copyFixture("bad-random-bytes.mp4", to: directory, as: "noise.mp4")
        let environment = ["MW_STORAGE_ROOT": directory.appendingPathComponent("storage").path, "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path]
        let job = directory.appendingPathComponent("job.json")
        try #"{"type":"probe","input":{"url":"\#(input)"}}"#.write(to: job, atomically: true, encoding: .utf8)
        let ok = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["process", job.path], environment: environment)
        #expect(ok.succeeded, "\(ok.stderr)")
        #expect(ok.stdout.split(separator: "\n").last?.contains("\"type\":\"ProbeCompleted\"") == true, "\(ok.stdout)")
        try #"{"type":"probe","input":{"url":"\#(bad)"}}"#.write(to: job, atomically: true, encoding: .utf8)
        let failed = try await CommandRunner.run(try ProjectPaths.executable("media-worker"), ["process", job.path], environment: environment)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("\"type\":\"ProbeFailed\"") && failed.stdout.contains("MEDIA_FORMAT_UNRECOGNIZED"), "\(failed.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("tmp").path).isEmpty)
    }

    @Test("transcode with options.encryption: keys written to MW_HLS_KEY_STORE before the package, playlists pointing at MW_HLS_KEY_URL, GStreamer plays it with the keys served; without a store the keys come in the event; a store that cannot be written fails the job with nothing published; without MW_HLS_KEY_URL the job fails with ENCRYPTION_NOT_CONFIGURED")
    func encryption() async throws {
        let (directory, storage) = try processFolder("process-aes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try copyFixture("h264-aac-1080p30-10s.mp4", to: directory, as: "clip.mp4")
        let base = ["MW_STORAGE_ROOT": storage, "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path,
                    "MW_HLS_KEY_URL": "/keys/{file_id}/{version}/{key_id}.key"]
        let job = directory.appendingPathComponent("job.json")
        let options = #"{"renditions":[234],"thumbnails":1,"storyboard":false,"segment_duration_s":2,"encryption":{"method":"aes-128","rotate_every_segments":2}}"#
        try #"{"type":"transcode","file_id":"movie-7","input":{"url":"\#(input)"},"output":{"url":"file://\#(storage)/media/"},"options":\#(options)}"#
            .write(to: job, atomically: true, encoding: .utf8)
        let executable = try ProjectPaths.executable("media-worker")
        func completed(_ run: CommandResult) throws -> [String: Any] {
            let line = try #require(run.stdout.split(separator: "\n").last { $0.contains("\"TranscodeCompleted\"") }, "\(run.stdout) \(run.stderr)")
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(event["data"] as? [String: Any])
        }

        // With a key store: every key there, 16 bytes, before the package names it; none in the event.
        let stored = try await CommandRunner.run(executable, ["process", job.path], environment: base.merging(["MW_HLS_KEY_STORE": "file://\(storage)/keys/"]) { $1 },
                                                 timeout: .seconds(240))
        #expect(stored.succeeded, "\(stored.stderr)")
        let data = try completed(stored)
        let report = try #require(data["encryption"] as? [String: Any], "\(data.keys)")
        let keys = try #require(report["keys"] as? [[String: Any]])
        #expect(report["method"] as? String == "aes-128" && report["rotate_every_segments"] as? Int == 2)
        let version = try #require(data["version"] as? String)
        #expect(keys.count >= 3, "\(keys)")
        for (number, key) in keys.enumerated() {
            let id = try #require(key["id"] as? String)
            #expect(key["uri"] as? String == "/keys/movie-7/\(version)/\(id).key")
            #expect(key["first_segment"] as? Int == number * 2 && key["key_hex"] == nil)
            let path = try #require((key["stored_at"] as? String)?.replacingOccurrences(of: "file://", with: ""))
            #expect(path == "\(storage)/keys/movie-7/\(version)/\(id).key")
            #expect((try? Data(contentsOf: URL(fileURLWithPath: path)))?.count == 16)
        }
        let versionPath = try #require((data["version_url"] as? String)?.replacingOccurrences(of: "file://", with: ""))
        let playlist = try String(contentsOfFile: versionPath + "hls/234p/index.m3u8", encoding: .utf8)
        #expect(playlist.components(separatedBy: "#EXT-X-KEY:METHOD=AES-128").count - 1 == playlist.components(separatedBy: "#EXTINF").count - 1)
        #expect(playlist.contains(".ts") && !playlist.contains("#EXT-X-MAP"), "encrypted packages are MPEG-TS: \(playlist)")
        let relative = String(versionPath.dropFirst(storage.count + 1)) + "hls/master.m3u8"
        let played = try await playInGStreamer(root: storage, master: relative)
        #expect(played.ok, "\(played.report)")
        // `process` prints events without the stream's envelope (id, queue, time): given here, the rest is the contract's.
        let documents = try stored.stdout.split(separator: "\n").filter { $0.contains("\"TranscodeCompleted\"") }.map { line in
            var event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            event.merge(["event_id": UUID().uuidString.lowercased(), "queue": "media", "occurred_at": "2026-12-07T00:00:00Z", "attempt": 1,
                         "worker_id": "process", "metadata": [String: Any](), "file_id": "movie-7", "meta_movie_id": NSNull()]) { old, _ in old }
            return String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self)
        }
        let validity = try await ContractTests.validate(documents, schema: "event.schema.json")
        #expect(validity == ["ok"], "\(validity)")

        // No store: the platform's key service takes the keys from the event.
        let handed = try await CommandRunner.run(executable, ["process", job.path], environment: base, timeout: .seconds(240))
        #expect(handed.succeeded, "\(handed.stderr)")
        let handedKeys = try #require((try completed(handed)["encryption"] as? [String: Any])?["keys"] as? [[String: Any]])
        #expect(handedKeys.allSatisfy { ($0["key_hex"] as? String)?.count == 32 && $0["stored_at"] == nil }, "\(handedKeys)")

        // The key store cannot be written: the job fails and publishes nothing (no playlist may name a key that is not there).
        let versions = { (try? FileManager.default.contentsOfDirectory(atPath: "\(storage)/media/movie-7/v")) ?? [] }
        let before = versions()
        // (A file where the store's folder should be: every write under it fails, as a store gone read-only would.)
        #expect(FileManager.default.createFile(atPath: "\(storage)/keys-blocked", contents: Data()))
        let outage = try await CommandRunner.run(executable, ["process", job.path],
                                                 environment: base.merging(["MW_HLS_KEY_STORE": "file://\(storage)/keys-blocked/"]) { $1 },
                                                 timeout: .seconds(240))
        #expect(outage.status == 1 && outage.stdout.contains("\"TranscodeFailed\"") && outage.stdout.contains("\"error_code\":\"STORAGE_IO\"")
                && outage.stdout.contains("\"retryable\":true") && !outage.stdout.contains("\"TranscodeCompleted\""),
                "\(outage.stdout) \(outage.stderr)")
        #expect(Set(versions()) == Set(before), "a version was published without its keys: \(versions()) against \(before)")

        // A store outside the storage roots could never be written: refused at start, naming the variable.
        let outside = try await CommandRunner.run(executable, ["process", job.path],
                                                  environment: base.merging(["MW_HLS_KEY_STORE": "file:///proc/mw-no-keys/"]) { $1 })
        #expect(!outside.succeeded && outside.stderr.contains("MW_HLS_KEY_STORE") && !outside.stdout.contains("\"TranscodeFailed\""),
                "\(outside.stdout) \(outside.stderr)")

        // No key URL: nothing a player could open, refused before any download.
        let refused = try await CommandRunner.run(executable, ["process", job.path], environment: base.merging(["MW_HLS_KEY_URL": ""]) { $1 })
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\"TranscodeFailed\"") && refused.stdout.contains("ENCRYPTION_NOT_CONFIGURED"), "\(refused.stdout)")
    }

    @Test("media-worker process interrupted (SIGINT) while a captions engine runs: the job is canceled, the engine and the child it started are stopped, no version is left, exit status 1")
    func processInterrupted() async throws {
        let (directory, storage) = try processFolder("process-interrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = storage + "/raw/tone.mp4"
        let made = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
            "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=4",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", source], timeout: .seconds(120))
        #expect(made.succeeded, "\(made.stderr)")
        // An engine that never answers, and starts a child of its own: both pids recorded.
        let pids = directory.appendingPathComponent("engine.pids").path
        let engine = directory.appendingPathComponent("slow-asr.sh").path
        try "#!/bin/sh\necho $$ > '\(pids)'\nsleep 603 &\necho $! >> '\(pids)'\nwait\n".write(toFile: engine, atomically: true, encoding: .utf8)
        chmod(engine, 0o755)
        let job = directory.appendingPathComponent("job.json")
        try #"{"type":"transcode","file_id":"tone","input":{"url":"file://\#(source)"},"output":{"url":"file://\#(storage)/media/"},"options":{"renditions":[234],"thumbnails":1,"storyboard":false,"captions":{"auto":true}}}"#
            .write(to: job, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("events.jsonl").path
        let worker = try ChildProcess.spawn(try ProjectPaths.executable("media-worker"), ["process", job.path],
                                            environment: ["MW_STORAGE_ROOT": storage, "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path,
                                                          "MW_ASR_COMMAND": engine], stdout: output, stderr: output + ".err")
        // Interrupted once the engine and its child run (by the file they write, however long that takes; bounded).
        func recorded() -> [Int32] {
            ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        }
        for _ in 0..<6000 where recorded().count < 2 && worker.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let engines = recorded()
        #expect(engines.count == 2, "the engine did not start: \((try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? "")")
        worker.signal(SIGINT)
        let status = await worker.wait(timeout: .seconds(120))
        #expect(status == 1, "exit status \(status.map(String.init) ?? "none: still running")")
        if status == nil { worker.signal(SIGKILL) }
        let events = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(events.contains("\"TranscodeFailed\"") && events.contains("MEDIA_CANCELED") && !events.contains("\"TranscodeCompleted\""), "\(events)")
        for pid in engines { #expect(await ExternalProgramTests.ends(pid), "engine process \(pid) still runs") }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: storage + "/media/tone/v")) ?? []
        #expect(versions.isEmpty, "\(versions)")
    }

    @Test("media-worker process interrupted (SIGTERM) mid-encode: TranscodeFailed with MEDIA_CANCELED (not an internal error), the encode stopped where it was, no version, exit status 1")
    func processInterruptedEncode() async throws {
        let (directory, storage) = try processFolder("process-interrupt-encode")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(atPath: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"), toPath: storage + "/raw/long.mp4")
        let job = directory.appendingPathComponent("job.json")
        try #"{"type":"transcode","file_id":"long","input":{"url":"file://\#(storage)/raw/long.mp4"},"output":{"url":"file://\#(storage)/media/"},"options":{"preset":"slow","packaging":"encode"}}"#
            .write(to: job, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("events.jsonl").path
        let worker = try ChildProcess.spawn(try ProjectPaths.executable("media-worker"), ["process", job.path],
                                            environment: ["MW_STORAGE_ROOT": storage, "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path],
                                            stdout: output, stderr: output + ".err")
        defer { worker.signal(SIGKILL) }
        func percents() -> [Double] {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                guard line.contains("\"JobProgress\""), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                return (object["data"] as? [String: Any])?["percent"] as? Double
            }
        }
        // Interrupted once the encode is under way (by its own progress, however long that takes; bounded).
        for _ in 0..<6000 where (percents().last ?? 0) < 15 && worker.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let atSignal = try #require(percents().last)
        worker.signal(SIGTERM)
        let status = await worker.wait(timeout: .seconds(120))
        #expect(status == 1, "exit status \(status.map(String.init) ?? "none: still running")")
        if status == nil { worker.signal(SIGKILL) }
        let lines = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n")
        let last = try #require(lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(last["type"] as? String == "TranscodeFailed", "\(last)")
        let data = last["data"] as? [String: Any]
        #expect(data?["error_code"] as? String == "MEDIA_CANCELED" && data?["retryable"] as? Bool == false, "\(last)")
        // The encode stopped at the signal: progress went at most a few percent further (frames in hand).
        #expect((percents().last ?? 0) - atSignal < 10, "progress went from \(atSignal) to \(percents().last ?? 0) after the signal")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: storage + "/media/long/v")) ?? []
        #expect(versions.isEmpty, "\(versions)")
    }

    @Test("automatic captions: espeak-ng speech of known sentences heard by the Whisper engine (word recall at least 80 %, cues inside their sentences within 0.5 s, an \"English (auto)\" rendition in HLS and DASH that the judges pass); the pocketsphinx fallback gives timed cues (recall reported); no engine fails the job, a missing engine program stops the start")
    func automaticCaptions() async throws {
        let (directory, storage) = try processFolder("process-asr")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Three sentences with a second of silence around each: their times are known by construction.
        let sentences = ["Every upload becomes a stream that anyone can watch.", "Players show the captions under the picture.",
                         "Good captions help people who cannot hear the sound."]
        let espeak = try ProjectPaths.tool("espeak-ng", package: "espeak-ng"), ffmpeg = try ProjectPaths.tool("ffmpeg", package: "ffmpeg")
        var timeline: [[String: Any]] = []
        var parts: [String] = []
        var at = 1.0
        for (index, sentence) in sentences.enumerated() {
            let wav = directory.appendingPathComponent("s\(index).wav").path
            let spoken = try await CommandRunner.run(espeak, ["-v", "en-us", "-s", "140", "-w", wav, sentence])
            #expect(spoken.succeeded, "\(spoken.stderr)")
            let bytes = try #require(try FileManager.default.attributesOfItem(atPath: wav)[.size] as? Int)
            let seconds = Double(bytes - 44) / (22050 * 2)  // espeak-ng: 16-bit mono at 22.05 kHz
            timeline.append(["start": at, "end": at + seconds, "text": sentence])
            parts.append(wav)
            at += seconds + 1
        }
        let source = storage + "/raw/talk.mp4"
        var arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=\(at)", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=1"]
        for part in parts { arguments += ["-i", part] }
        let inputs = (0..<parts.count).map { "[\($0 + 2):a][1:a]" }.joined()
        arguments += ["-filter_complex", "[1:a]\(inputs)concat=n=\(parts.count * 2 + 1):v=0:a=1[a]", "-map", "0:v", "-map", "[a]",
                      "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", source]
        let made = try await CommandRunner.run(ffmpeg, arguments, timeout: .seconds(120))
        #expect(made.succeeded, "\(made.stderr)")

        let job = directory.appendingPathComponent("job.json")
        try #"{"type":"transcode","file_id":"talk","input":{"url":"file://\#(source)"},"output":{"url":"file://\#(storage)/media/"},"options":{"renditions":[234],"thumbnails":1,"storyboard":false,"dash":true,"captions":{"auto":true,"language":"en"}}}"#
            .write(to: job, atomically: true, encoding: .utf8)
        let base = ["MW_STORAGE_ROOT": storage, "MW_TEMP_DIR": directory.appendingPathComponent("tmp").path]
        let whisper = ProjectPaths.venvBin.appendingPathComponent("python").path + " " + ProjectPaths.scripts.appendingPathComponent("asr/whisper_asr.py").path
        let executable = try ProjectPaths.executable("media-worker")
        let sentencesJSON = String(decoding: try JSONSerialization.data(withJSONObject: timeline), as: UTF8.self)
        var recalls: [String: Double] = [:]
        for (engine, environment) in [("whisper", ["MW_ASR_COMMAND": whisper]), ("pocketsphinx", ["MW_ASR_ENGINE": "pocketsphinx"])] {
            let run = try await CommandRunner.run(executable, ["process", job.path], environment: base.merging(environment) { $1 }, timeout: .seconds(300))
            #expect(run.succeeded, "\(engine): \(run.stderr.suffix(2000))")
            let line = try #require(run.stdout.split(separator: "\n").last { $0.contains("\"TranscodeCompleted\"") }, "\(engine): \(run.stdout)")
            let data = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["data"] as? [String: Any])
            let report = try #require(data["captions"] as? [String: Any], "\(data.keys)")
            #expect(report["engine"] as? String == engine && report["name"] as? String == "English (auto)", "\(report)")
            #expect((report["realtime_factor"] as? Double ?? 0) > 0)
            let outputs = try #require(data["outputs"] as? [String: Any])
            let verdict = try await judgeAutoCaptions(outputs, sentences: sentencesJSON)
            recalls[engine] = verdict["recall"] as? Double
            let master = String(try #require(outputs["hls_master_version"] as? String).dropFirst("file://".count))
            let hls = try await judgeHLS(master)
            #expect(hls.errors.isEmpty, "\(engine): \(hls.errors)")
            let dash = try await judgeDASH(String(try #require(outputs["dash_manifest"] as? String).dropFirst("file://".count)))
            #expect(dash.errors.isEmpty, "\(engine): \(dash.errors)")
            if engine == "whisper" {
                #expect(verdict["ok"] as? Bool == true && (verdict["recall"] as? Double ?? 0) >= 0.8, "\(verdict)")
            } else {
                // The fallback's cues are timed and valid; its accuracy is reported, not asserted.
                #expect((verdict["cues"] as? Int ?? 0) >= 1 && report["note"] != nil, "\(verdict)")
            }
        }
        print("automatic captions word recall on espeak-ng speech: \(recalls)")

        // Split into parts across a pool: the audio part hears the whole track, the stitch publishes its rendition.
        try await MediaWorkerTests.withWorker(folder: "asr-split", environment: fastWorkerSettings.merging(["MW_ASR_COMMAND": whisper]) { $1 }) { worker, probe, folder in
            let copy = folder.appendingPathComponent("storage/raw/talk.mp4").path
            try FileManager.default.copyItem(atPath: source, toPath: copy)
            let output = "file://" + folder.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"asr-split","type":"transcode","input":{"url":"file://\#(copy)"},"output":{"url":"\#(output)"},"options":{"renditions":[234],"thumbnails":1,"split":{"chunk_s":6},"captions":{"auto":true}}}"#)
            #expect(await eventually(.seconds(240)) { try await probe.terminalEvents()["asr-split"] != nil }, "\(worker.logText)")
            let done = try #require(try await events(probe, job: "asr-split").first { $0["type"] as? String == "TranscodeCompleted" })
            let data = try #require(done["data"] as? [String: Any])
            #expect((data["captions"] as? [String: Any])?["engine"] as? String == "whisper", "\(data.keys)")
            let outputs = try #require(data["outputs"] as? [String: Any])
            let verdict = try await judgeAutoCaptions(outputs, sentences: sentencesJSON)
            #expect(verdict["ok"] as? Bool == true && (verdict["recall"] as? Double ?? 0) >= 0.8, "split: \(verdict)")
            let hls = try await judgeHLS(String(try #require(outputs["hls_master_version"] as? String).dropFirst("file://".count)))
            #expect(hls.errors.isEmpty, "split: \(hls.errors)")
            try await expectValidEvents(probe)
        }

        // tiny.en hears English only: German is refused (exit 3 of the engine), not retried.
        let german = directory.appendingPathComponent("german.json")
        try String(contentsOf: job, encoding: .utf8).replacingOccurrences(of: #""language":"en""#, with: #""language":"de""#)
            .write(to: german, atomically: true, encoding: .utf8)
        let unheard = try await CommandRunner.run(executable, ["process", german.path], environment: base.merging(["MW_ASR_COMMAND": whisper]) { $1 },
                                                  timeout: .seconds(300))
        #expect(unheard.status == 1 && unheard.stdout.contains("MEDIA_SPEECH_LANGUAGE_UNSUPPORTED") && unheard.stdout.contains("\"retryable\":false"),
                "\(unheard.stdout)")
        let off = try await CommandRunner.run(executable, ["process", job.path], environment: base.merging(["MW_ASR_ENGINE": "off"]) { $1 })
        #expect(off.status == 1 && off.stdout.contains("CAPTIONS_ENGINE_UNAVAILABLE"), "\(off.stdout)")
        let missing = try await CommandRunner.run(executable, ["process", job.path], environment: base.merging(["MW_ASR_COMMAND": "/nonexistent/whisper"]) { $1 })
        #expect(!missing.succeeded && (missing.stdout + missing.stderr).contains("MW_ASR_COMMAND"), "\(missing.stdout) \(missing.stderr)")
    }

    @Test("keyframes: one KeyframeReady per keyframe, then KeyframesCompleted; thumbnails and probe complete")
    func stillsAndProbe() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("h264-aac-1080p30-10s.mp4", to: directory, as: "clip.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/assets/").path
            try await probe.push(#"{"id":"k1","type":"keyframes","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"max_width":320}}"#)
            try await probe.push(#"{"id":"th1","type":"thumbnails","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"count":4}}"#)
            try await probe.push(#"{"id":"p1","type":"probe","input":{"url":"\#(input)"}}"#)
            #expect(await eventually(.seconds(60)) { try await probe.terminalEvents().count == 3 }, "\(worker.logText)")
            let terminal = try await probe.terminalEvents()
            #expect(terminal["k1"] == ["KeyframesCompleted"] && terminal["th1"] == ["ThumbnailsCompleted"] && terminal["p1"] == ["ProbeCompleted"])
            let keyframeEvents = try await events(probe, job: "k1")
            let ready = keyframeEvents.filter { $0["type"] as? String == "KeyframeReady" }
            #expect(ready.count == 5)
            let last = try #require(keyframeEvents.last)
            #expect(last["type"] as? String == "KeyframesCompleted", "per-asset events come before the completion")
            for event in ready {
                let data = try #require(event["data"] as? [String: Any])
                let url = try #require(data["url"] as? String)
                #expect(FileManager.default.fileExists(atPath: String(url.dropFirst("file://".count))))
                #expect((data["asset_id"] as? String)?.hasPrefix("clip:keyframe:") == true)
            }
            let thumbs = try #require(try await events(probe, job: "th1").last?["data"] as? [String: Any])
            #expect((thumbs["thumbnails"] as? [Any])?.count == 4)
            let probed = try #require(try await events(probe, job: "p1").last?["data"] as? [String: Any])
            #expect(((probed["media"] as? [String: Any])?["streams"] as? [Any])?.count == 2)
            try await expectValidEvents(probe)
        }
    }

    @Test("compose: narration files and TTS text into MP4 + HLS, ComposeCompleted with scene times; soft captions (sidecar and subtitle rendition) timed to the spoken words, judged against the scenes and the voice; speech comes from the cache the second time; a bad scene fails naming it")
    func composeJob() async throws {
        try await withWorker { worker, probe, directory in
            let raw = directory.appendingPathComponent("storage/raw")
            let material = ComposeMaterial(directory: raw.path)
            let first = try await material.still("first.png", color: scenePalette[0], width: 640, height: 360)
            let second = try await material.still("second.jpg", color: scenePalette[6], width: 400, height: 300)
            let voice = try await material.tone("voice.wav", freq: 440, seconds: 1.5, rate: 22050)
            let output = "file://" + directory.appendingPathComponent("storage/videos/").path
            let narration = "The second scene is spoken by the worker itself. It has two sentences, and the second one is long enough to need two lines of captions on screen."
            func job(_ id: String, fileID: String) -> String {
                #"{"id":"\#(id)","type":"compose","file_id":"\#(fileID)","output":{"url":"\#(output)"},"options":{"scenes":["#
                    + #"{"visual":"file://\#(first)","audio":"file://\#(voice)","caption":"Hello"},"#
                    + #"{"visual":"file://\#(second)","text":"\#(narration)"},"#
                    + #"{"visual":"file://\#(first)","duration_s":1.2}],"#
                    + #""output":{"width":640,"height":360,"fps":25,"hls":true,"preset":"ultrafast"},"captions":true,"transition":0.3}}"#
            }
            try await probe.push(job("c1", fileID: "promo"))
            #expect(await eventually(.seconds(90)) { try await probe.terminalEvents()["c1"] != nil }, "\(worker.logText)")
            let lastEvent = try await events(probe, job: "c1").last ?? [:]
            #expect(try await probe.terminalEvents()["c1"] == ["ComposeCompleted"], "\(lastEvent)")
            let data = try #require(try await events(probe, job: "c1").last?["data"] as? [String: Any])
            #expect(data["speech_synthesized"] as? Int == 1)
            let scenes = try #require(data["scenes"] as? [[String: Any]])
            #expect(scenes.count == 3)
            #expect(scenes.first?["start_s"] as? Double == 0 && scenes.first?["end_s"] as? Double == 1.5)
            let spoken = (scenes[1]["end_s"] as? Double ?? 0) - (scenes[1]["start_s"] as? Double ?? 0)
            #expect(spoken > 1, "the TTS scene lasts \(spoken) s")
            #expect(abs((scenes[2]["end_s"] as? Double ?? 0) - (scenes[2]["start_s"] as? Double ?? 0) - 1.2) < 0.001)
            let outputs = try #require(data["outputs"] as? [String: Any])
            let mp4 = String(try #require(outputs["mp4"] as? String).dropFirst("file://".count))
            let master = String(try #require(outputs["hls_master"] as? String).dropFirst("file://".count))
            #expect(mp4.contains("/videos/promo/v/") && mp4.hasSuffix("/video.mp4") && FileManager.default.fileExists(atPath: mp4))
            #expect(master.hasSuffix("/videos/promo/hls/master.m3u8"))
            #expect(data["stable_urls"] as? [String] == [try #require(outputs["hls_master"] as? String)])
            let verdict = try await judgeHLS(master)
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")

            // Soft captions: the sidecar and the package's subtitle rendition, judged against the
            // scene times and the voice heard in the MP4 (the TTS scene's cues follow its words).
            let captions = try #require(outputs["captions"] as? [String: Any], "\(outputs.keys)")
            #expect(captions["language"] as? String == "en")
            let sidecar = String(try #require(captions["url"] as? String).dropFirst("file://".count))
            let judged = try await judgeCaptions(sidecar, media: mp4, fps: 25, scenes: [
                ["start_s": scenes[0]["start_s"] as Any, "end_s": scenes[0]["end_s"] as Any, "text": "Hello"],
                ["start_s": scenes[1]["start_s"] as Any, "end_s": scenes[1]["end_s"] as Any, "text": narration, "spoken": true],
            ])
            #expect(judged["ok"] as? Bool == true, "\(judged)")
            #expect(captions["cues"] as? Int == judged["cues"] as? Int && (judged["cues"] as? Int ?? 0) >= 4, "\(judged)")
            let subtitles = try #require(outputs["subtitles"] as? [[String: Any]])
            #expect(subtitles.count == 1 && subtitles.first?["language"] as? String == "en" && subtitles.first?["cues"] as? Int == captions["cues"] as? Int)
            let masterText = try String(contentsOfFile: master.replacingOccurrences(of: "/hls/master.m3u8", with: "/v/\(data["version"] as? String ?? "")/hls/master.m3u8"), encoding: .utf8)
            #expect(masterText.contains("TYPE=SUBTITLES") && masterText.contains("LANGUAGE=\"en\""), "\(masterText)")
            let duration = try #require(data["duration_s"] as? Double), audio = try #require(data["audio_duration_s"] as? Double)
            #expect(abs(duration - audio) <= 0.5 / 25 + 0.001)

            // The same text again: the speech comes from the cache.
            try await probe.push(job("c2", fileID: "promo-again"))
            #expect(await eventually(.seconds(90)) { try await probe.terminalEvents()["c2"] != nil }, "\(worker.logText)")
            let again = try #require(try await events(probe, job: "c2").last?["data"] as? [String: Any])
            #expect(again["speech_synthesized"] as? Int == 0, "\(again)")

            // A scene whose audio is missing: the job fails naming it, nothing is stored for it.
            let missing = "file://" + raw.appendingPathComponent("nope.wav").path
            try await probe.push(#"{"id":"c3","type":"compose","file_id":"broken","output":{"url":"\#(output)"},"options":{"scenes":["#
                                 + #"{"visual":"file://\#(first)","duration_s":1},{"visual":"file://\#(first)","audio":"\#(missing)"}]}}"#)
            #expect(await eventually(.seconds(30)) { try await probe.terminalEvents()["c3"] != nil }, "\(worker.logText)")
            let failure = try #require(try await events(probe, job: "c3").last)
            #expect(failure["type"] as? String == "ComposeFailed")
            let reason = failure["data"] as? [String: Any]
            #expect((reason?["message"] as? String)?.hasPrefix("scene 2 (audio)") == true, "\(String(describing: reason))")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("storage/videos/broken").path))
            try await expectValidEvents(probe)
        }
    }

    @Test("cancel reaches the running encode: TranscodeCanceled within seconds, nothing uploaded, the job folder removed")
    func cancelTranscode() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("h264-aac-1080p30-10s.mp4", to: directory, as: "long.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            // The full default ladder with a slow preset: many seconds of encoding to interrupt.
            try await probe.push(#"{"id":"c2","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"options":{"preset":"slow","packaging":"encode"}}"#)
            #expect(await eventually(.seconds(30)) {
                let listed = try worker.get("/status").body.contains("\"id\":\"c2\"")
                // Past 10 %: the ladder is encoding (download and probe come first).
                let progress = try await probe.queue.record(id: "c2")?.fields["progress"] ?? ""
                let percent = (try? JSONSerialization.jsonObject(with: Data(progress.utf8)) as? [String: Any])?["percent"] as? Double ?? 0
                return listed && percent > 12
            })
            func percent() async throws -> Double {
                let progress = try await probe.queue.record(id: "c2")?.fields["progress"] ?? ""
                return (try? JSONSerialization.jsonObject(with: Data(progress.utf8)) as? [String: Any])?["percent"] as? Double ?? 0
            }
            _ = try await probe.queue.cancel(id: "c2")
            let atRequest = try await percent()
            #expect(await eventually(.seconds(60), every: .milliseconds(50)) { try await probe.queue.record(id: "c2")?.state == .canceled })
            // The encode stopped where it was, judged by its own progress, which a loaded machine
            // slows as much as it slows the cancel: a heartbeat (0.5 s) of encoding, plus up to 1 s
            // by which the recorded progress may trail (the worker sends it at most once a second);
            // the encode is 60 points of the job's percent over many seconds of this slow preset.
            let atEnd = try await percent()
            #expect(atEnd - atRequest < 10, "the encode went on from \(atRequest) % to \(atEnd) % after the request")
            // On Redis's clock, from the request to the job's end (a bound for a hang, not a stopwatch).
            let record = try #require(try await probe.queue.record(id: "c2"))
            let requested = try #require(record.fields["cancel_requested_at"].flatMap { Int64($0) })
            let finished = try #require(record.fields["finished_at"].flatMap { Int64($0) })
            #expect(finished - requested < 10_000, "canceled \(finished - requested) ms after the request")
            #expect(try await probe.terminalEvents()["c2"] == ["TranscodeCanceled"])
            #expect(await eventually { try await !worker.get("/status").body.contains("\"id\":\"c2\"") })
            let leftovers = FileManager.default.enumerator(atPath: directory.appendingPathComponent("storage/media").path)?.allObjects ?? []
            #expect(leftovers.isEmpty, "\(leftovers)")
            let jobs = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("tmp/mw-\(worker.id)").path)
            #expect(jobs.filter { $0.hasPrefix("job-") }.isEmpty)
        }
    }

    @Test("a corrupt upload: TranscodeFailed with the media code, nothing left under its output prefix")
    func corruptInput() async throws {
        try await withWorker { worker, probe, directory in
            let input = try copyFixture("bad-truncated-no-moov.mp4", to: directory, as: "broken.mp4")
            let output = "file://" + directory.appendingPathComponent("storage/media/").path
            try await probe.push(#"{"id":"bad","type":"transcode","input":{"url":"\#(input)"},"output":{"url":"\#(output)"}}"#)
            #expect(await eventually(.seconds(30)) { try await probe.terminalEvents()["bad"] != nil }, "\(worker.logText)")
            #expect(try await probe.terminalEvents()["bad"] == ["TranscodeFailed"])
            let failed = try #require(try await events(probe, job: "bad").last)
            #expect((failed["data"] as? [String: Any])?["error_code"] as? String == "MEDIA_INPUT_CORRUPT")
            #expect(failed["file_id"] as? String == "broken")
            let leftovers = FileManager.default.enumerator(atPath: directory.appendingPathComponent("storage/media").path)?.allObjects ?? []
            #expect(leftovers.isEmpty, "\(leftovers)")
            // Outside the storage root: refused, not read.
            try await probe.push(#"{"id":"escape","type":"probe","input":{"url":"file:///etc/passwd"}}"#)
            #expect(await eventually(.seconds(20)) { try await probe.terminalEvents()["escape"] != nil })
            let refused = try #require(try await events(probe, job: "escape").last)
            #expect((refused["data"] as? [String: Any])?["error_code"] as? String == "STORAGE_OUTSIDE_ROOT")
            try await expectValidEvents(probe)
        }
    }
}
