import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// `scripts/test/otlp_receiver.py`: an OTLP/HTTP endpoint decoding with PyPI opentelemetry-proto,
/// one JSON line per span received.
struct OTLPReceiver {
    let process: ChildProcess
    let port: Int
    let output: String

    /// `refusing`: the first that many requests are answered 503, unrecorded (`refused()` counts them).
    static func start(directory: URL, refusing: Int = 0) async throws -> OTLPReceiver {
        let output = directory.appendingPathComponent("spans-\(UUID().uuidString.prefix(6)).jsonl").path
        let stdout = output + ".out"
        let process = try ChildProcess.spawn(
            ProjectPaths.venvBin.appendingPathComponent("python").path,
            [ProjectPaths.scripts.appendingPathComponent("test/otlp_receiver.py").path, output, "--refuse", String(refusing)], stdout: stdout, stderr: stdout)
        var port = 0
        _ = await eventually(.seconds(20)) {
            port = Int(((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "").split(whereSeparator: \.isNewline).first ?? "") ?? 0
            return port > 0
        }
        guard port > 0 else {
            process.signal(SIGKILL)
            throw TestFailure("OTLP receiver did not start (install PyPI opentelemetry-proto with scripts/install-deps.sh): \((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "")")
        }
        return OTLPReceiver(process: process, port: port, output: output)
    }

    /// A receiver writing into a fresh test folder; `stop(removing:)` ends it and removes the folder.
    static func start(folder: String, refusing: Int = 0) async throws -> (OTLPReceiver, URL) {
        let scratch = try makeTestDirectory(folder)
        do {
            return (try await start(directory: scratch, refusing: refusing), scratch)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    func stop(removing folder: URL) {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(at: folder)
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Requests answered 503 so far.
    func refused() -> Int { Int((try? String(contentsOfFile: output + ".refused", encoding: .utf8)) ?? "") ?? 0 }

    func spans() -> [Span] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isNewline).compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.map(Span.init)
    }

    struct Span {
        let raw: [String: Any]
        var traceID: String { raw["trace_id"] as? String ?? "" }
        var spanID: String { raw["span_id"] as? String ?? "" }
        var parentID: String { raw["parent_span_id"] as? String ?? "" }
        var name: String { raw["name"] as? String ?? "" }
        var kind: Int { raw["kind"] as? Int ?? 0 }
        var attributes: [String: Any] { raw["attributes"] as? [String: Any] ?? [:] }
        var service: String { (raw["resource"] as? [String: Any])?["service.name"] as? String ?? "" }
        var links: [[String: String]] { raw["links"] as? [[String: String]] ?? [] }
        var statusCode: Int { (raw["status"] as? [String: Any])?["code"] as? Int ?? 0 }
        var statusMessage: String { (raw["status"] as? [String: Any])?["message"] as? String ?? "" }
        var traceState: String { raw["trace_state"] as? String ?? "" }
        var resource: [String: Any] { raw["resource"] as? [String: Any] ?? [:] }
        var headers: [String: String] { raw["headers"] as? [String: String] ?? [:] }
        var contentEncoding: String { raw["content_encoding"] as? String ?? "" }
        var events: [String] { raw["events"] as? [String] ?? [] }
        var eventAttributes: [[String: Any]] { raw["event_attributes"] as? [[String: Any]] ?? [] }
        var start: Int { raw["start_ns"] as? Int ?? 0 }
        var end: Int { raw["end_ns"] as? Int ?? 0 }
        func string(_ name: String) -> String? { attributes[name] as? String }
        func int(_ name: String) -> Int? { (attributes[name] as? Int) ?? (attributes[name] as? String).flatMap { Int($0) } }
    }
}

/// A producer written with the OpenTelemetry Python SDK (`scripts/test/traced_producer.py`):
/// a PRODUCER span, its W3C context in the envelope, RPUSH with redis-py, the span exported.
func produceTraced(redisURL: String, inboxKey: String, job: String, endpoint: String, sampled: Bool = true) async throws -> (traceID: String, spanID: String) {
    let result = try await CommandRunner.run(
        ProjectPaths.venvBin.appendingPathComponent("python").path,
        [ProjectPaths.scripts.appendingPathComponent("test/traced_producer.py").path, redisURL, inboxKey, job, endpoint, "--sampled", sampled ? "1" : "0"],
        timeout: .seconds(60))
    guard result.succeeded, let reply = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String],
          let trace = reply["trace_id"], let span = reply["span_id"] else {
        throw TestFailure("traced producer failed (install PyPI opentelemetry-sdk with scripts/install-deps.sh): \(result.stderr)")
    }
    return (trace, span)
}

/// Traces as a user of an OpenTelemetry backend sees them: spans received over OTLP/HTTP, the
/// producer's own span from the Python SDK, events naming the trace. Judged by what arrives
/// (the receiver's file, the event stream), never by a time window.
@Suite("Traces across producer, attempts and parts", .serialized)
struct TracingTests {
    static func settings(_ receiver: OTLPReceiver, _ more: [String: String] = [:]) -> [String: String] {
        fastWorkerSettings.merging(["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"]) { $1 }
            .merging(more) { $1 }
    }

    static func terminal(_ probe: QueueProbe, _ id: String, timeout: Duration = .seconds(120)) async throws -> [String: Any]? {
        var found: [String: Any]?
        _ = await eventually(timeout, every: .milliseconds(200)) {
            found = try await probe.events().first { event in
                (event["job_id"] as? String) == id && ["Completed", "Failed"].contains { ((event["type"] as? String) ?? "").hasSuffix($0) }
                    && !((event["type"] as? String) ?? "").hasPrefix("TranscodeChunk")
            }
            return found != nil
        }
        return found
    }

    @Test("child mode: one trace from the producer's span through the split attempt, its parts and the stitch, with download, probe, encode, upload and publish spans")
    func splitTranscodeIsOneTrace() async throws {
        let (receiver, scratch) = try await OTLPReceiver.start(folder: "tracing-split")
        defer { receiver.stop(removing: scratch) }
        try await withWorkers(count: 2, folder: "tracing-split-pool", environment: Self.settings(receiver, ["MW_TRACE_PRODUCER_SPAN": "child"]),
                              prepare: { directory in
            try FileManager.default.copyItem(atPath: try ProjectPaths.fixture("h264-aac-1080p30-10s.mp4"),
                                             toPath: directory.appendingPathComponent("storage/raw/talk.mp4").path)
        }) { redis, workers, probe, directory in
            let storage = directory.appendingPathComponent("storage").path
            let job = #"{"id":"traced-split","type":"transcode","input":{"url":"file://\#(storage)/raw/talk.mp4"},"#
                + #""output":{"url":"file://\#(storage)/out/"},"options":{"renditions":[234],"thumbnails":1,"storyboard":false,"split":{"chunk_s":6}}}"#
            let producer = try await produceTraced(redisURL: redis.url, inboxKey: probe.queue.inboxKey, job: job, endpoint: receiver.endpoint)
            let completed = try await Self.terminal(probe, "traced-split", timeout: .seconds(300))
            #expect(completed?["type"] as? String == "TranscodeCompleted", "\(String(describing: completed))")
            // The stitch's span ends after its completion is recorded; wait for it to arrive.
            let arrived = await eventually(.seconds(60), every: .milliseconds(200)) {
                receiver.spans().contains { $0.string("mediaworker.job.stage") == "stitch" && $0.string("mediaworker.job.outcome") != nil }
            }
            #expect(arrived, "no stitch span: \(receiver.spans().map(\.name))")
            let spans = receiver.spans()
            let ours = spans.filter { $0.service == "media-worker" }
            #expect(spans.contains { $0.service == "test-producer" && $0.spanID == producer.spanID })
            #expect(!ours.isEmpty && ours.allSatisfy { $0.traceID == producer.traceID }, "spans outside the producer's trace: \(ours.filter { $0.traceID != producer.traceID }.map(\.name))")
            #expect(completed?["trace_id"] as? String == producer.traceID)

            let attempts = ours.filter { $0.name == "process default" }
            let split = attempts.first { $0.string("messaging.message.id") == "traced-split" && $0.string("mediaworker.job.outcome") == "split" }
            let stitch = attempts.first { $0.string("messaging.message.id") == "traced-split" && $0.string("mediaworker.job.stage") == "stitch" }
            let parts = attempts.filter { $0.string("mediaworker.job.parent_id") == "traced-split" }
            #expect(split?.parentID == producer.spanID, "the split attempt is the producer span's child")
            #expect(stitch?.parentID == producer.spanID)
            #expect(stitch?.string("mediaworker.job.outcome") == "completed")
            #expect(parts.count == 3, "two chunks and the audio: \(parts.map { $0.string("messaging.message.id") ?? "" })")
            #expect(parts.allSatisfy { $0.parentID == split?.spanID && $0.string("mediaworker.job.outcome") == "completed" })
            for attempt in attempts {
                #expect(attempt.kind == 5, "a CONSUMER span")
                #expect(attempt.string("messaging.system") == "mediaworker")
                #expect(attempt.string("messaging.destination.name") == "default")
                #expect(attempt.string("messaging.operation.type") == "process")
                // The stitch is the job's second delivery.
                #expect(attempt.int("mediaworker.job.attempt") == (attempt.spanID == stitch?.spanID ? 2 : 1))
            }
            func children(of span: OTLPReceiver.Span?) -> Set<String> { Set(ours.filter { $0.parentID == span?.spanID }.map(\.name)) }
            #expect(children(of: split).isSuperset(of: ["download", "probe"]), "\(children(of: split))")
            #expect(children(of: stitch).isSuperset(of: ["upload", "publish"]), "\(children(of: stitch))")
            for part in parts { #expect(children(of: part).isSuperset(of: ["encode", "upload"]), "\(children(of: part))") }
            // A worker downloads the input once for all its parts (its input cache).
            #expect(parts.contains { children(of: $0).contains("download") })
            let encodes = ours.filter { $0.name == "encode" && parts.map(\.spanID).contains($0.parentID) }
            #expect(Set(encodes.compactMap { $0.string("mediaworker.encode.rungs") }) == ["234p", "audio"])
            #expect(ours.filter { $0.name == "upload" }.allSatisfy { ($0.int("mediaworker.bytes") ?? 0) > 0 })
            // Log lines name the trace and the attempt's span.
            let logs = workers.map(\.logText).joined()
            #expect(logs.contains(#""trace_id":"\#(producer.traceID)""#) && logs.contains(#""span_id":"\#(split?.spanID ?? "-")""#))
        }
    }

    @Test("link mode (the default): each attempt starts a trace linked to the producer's span; events and logs name that trace; a failed attempt's span says why")
    func attemptsLinkToTheProducer() async throws {
        let (receiver, scratch) = try await OTLPReceiver.start(folder: "tracing-link")
        defer { receiver.stop(removing: scratch) }
        try await withWorkers(count: 1, folder: "tracing-link-worker", environment: Self.settings(receiver)) { redis, workers, probe, _ in
            let worker = workers[0], url = redis.url
            let producer = try await produceTraced(redisURL: url, inboxKey: probe.queue.inboxKey,
                                                   job: #"{"id":"linked","type":"noop","options":{"duration_ms":1200}}"#, endpoint: receiver.endpoint)
            let failing = try await produceTraced(redisURL: url, inboxKey: probe.queue.inboxKey,
                                                  job: #"{"id":"drill","type":"noop","max_attempts":2,"options":{"fail_with":{"code":"DRILL_FAILED","retryable":true}}}"#,
                                                  endpoint: receiver.endpoint)
            let completed = try await Self.terminal(probe, "linked")
            let dead = try await Self.terminal(probe, "drill")
            #expect(dead?["type"] as? String == "NoopFailed")
            let arrived = await eventually(.seconds(60), every: .milliseconds(200)) {
                let spans = receiver.spans().filter { $0.name == "process default" }
                return spans.contains { $0.string("messaging.message.id") == "linked" } && spans.filter { $0.string("messaging.message.id") == "drill" }.count == 2
            }
            #expect(arrived, "\(receiver.spans().map(\.name))")
            let spans = receiver.spans()
            let attempt = try #require(spans.first { $0.name == "process default" && $0.string("messaging.message.id") == "linked" })
            #expect(attempt.traceID != producer.traceID && attempt.parentID.isEmpty, "a root span of its own trace")
            #expect(attempt.links == [["trace_id": producer.traceID, "span_id": producer.spanID]])
            #expect(completed?["trace_id"] as? String == attempt.traceID)
            let progress = try await probe.events().filter { ($0["job_id"] as? String) == "linked" && ($0["type"] as? String) == "JobProgress" }
            #expect(!progress.isEmpty && progress.allSatisfy { ($0["trace_id"] as? String) == attempt.traceID })
            #expect(worker.logText.contains(#""trace_id":"\#(attempt.traceID)""#))

            let drills = spans.filter { $0.name == "process default" && $0.string("messaging.message.id") == "drill" }
            #expect(Set(drills.compactMap { $0.string("mediaworker.job.outcome") }) == ["retry", "dead"])
            #expect(drills.allSatisfy { $0.statusCode == 2 && $0.string("error.type") == "DRILL_FAILED" && $0.links.first?["span_id"] == failing.spanID })
            #expect(Set(drills.map(\.traceID)).count == 2, "each attempt its own trace")
            let lastAttempt = drills.first { $0.string("mediaworker.job.outcome") == "dead" }
            #expect(dead?["trace_id"] as? String == lastAttempt?.traceID)
        }
    }

    @Test("a producer's sampled-out decision is followed: no spans for that job, its events still name the producer's trace")
    func sampledOutProducerIsRespected() async throws {
        let (receiver, scratch) = try await OTLPReceiver.start(folder: "tracing-sampled")
        defer { receiver.stop(removing: scratch) }
        for mode in ["link", "child"] {
            try await withWorkers(count: 1, folder: "tracing-sampled-\(mode)",
                                  environment: Self.settings(receiver, ["MW_TRACE_PRODUCER_SPAN": mode])) { redis, _, probe, _ in
                let url = redis.url
                let quiet = try await produceTraced(redisURL: url, inboxKey: probe.queue.inboxKey,
                                                    job: #"{"id":"quiet-\#(mode)","type":"noop","options":{"duration_ms":1200}}"#,
                                                    endpoint: receiver.endpoint, sampled: false)
                // A sampled job behind it: once its span is in, the quiet one's would have been too.
                _ = try await produceTraced(redisURL: url, inboxKey: probe.queue.inboxKey,
                                            job: #"{"id":"loud-\#(mode)","type":"noop"}"#, endpoint: receiver.endpoint)
                let quietEnd = try await Self.terminal(probe, "quiet-\(mode)")
                _ = try await Self.terminal(probe, "loud-\(mode)")
                #expect(await eventually(.seconds(60), every: .milliseconds(200)) {
                    receiver.spans().contains { $0.string("messaging.message.id") == "loud-\(mode)" }
                })
                #expect(!receiver.spans().contains { $0.string("messaging.message.id") == "quiet-\(mode)" || $0.traceID == quiet.traceID })
                #expect(quietEnd?["trace_id"] as? String == quiet.traceID)
            }
        }
    }

    @Test("an endpoint with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none exports nothing (a worker beside it, enabled, does)")
    func switchedOffExportsNothing() async throws {
        let (receiver, scratch) = try await OTLPReceiver.start(folder: "tracing-disabled")
        defer { receiver.stop(removing: scratch) }
        for (index, off) in [["OTEL_SDK_DISABLED": "true"], ["OTEL_TRACES_EXPORTER": "none"]].enumerated() {
            try await withWorkers(count: 1, folder: "tracing-disabled-\(index)", environment: Self.settings(receiver, off)) { redis, workers, probe, directory in
                #expect(workers[0].logText.contains(#""traces":"off""#))
                _ = try await produceTraced(redisURL: redis.url, inboxKey: probe.queue.inboxKey,
                                            job: #"{"id":"silent-\#(index)","type":"noop"}"#, endpoint: receiver.endpoint)
                let silent = try await Self.terminal(probe, "silent-\(index)")
                #expect(silent?["type"] as? String == "NoopCompleted")
                // The same receiver, a worker that may export: once its span is in, the first's would have been.
                let enabled = try WorkerProcess.start(redisURL: redis.url, id: "enabled-\(index)", directory: directory,
                                                      environment: Self.settings(receiver, ["MW_QUEUES": "other"]))
                defer { enabled.process.signal(SIGKILL) }
                #expect(await enabled.waitUntilReady(), "\(enabled.logText)")
                let other = try QueueProbe(redisURL: redis.url, queue: "other")
                try await other.push(#"{"id":"heard-\#(index)","type":"noop"}"#)
                #expect(await eventually(.seconds(60), every: .milliseconds(200)) {
                    receiver.spans().contains { $0.string("messaging.message.id") == "heard-\(index)" }
                })
                #expect(!receiver.spans().contains { $0.string("messaging.message.id") == "silent-\(index)" })
                await other.queue.client.close()
            }
        }
    }

    @Test("tracing off (no OTEL_ endpoint): the worker says so, and events carry the producer's trace id or none")
    func offWhenUnset() async throws {
        try await withWorker(folder: "tracing-off") { worker, probe, _ in
            #expect(worker.logText.contains(#""traces":"off""#), "\(worker.logText)")
            try await probe.push(#"{"id":"plain","type":"noop"}"#)
            try await probe.push(#"{"id":"carried","type":"noop","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#)
            try await probe.push(#"{"id":"garbled","type":"noop","traceparent":"00-XYZ-00f067aa0ba902b7-01"}"#)
            let plain = try await Self.terminal(probe, "plain")
            let carried = try await Self.terminal(probe, "carried")
            let garbled = try await Self.terminal(probe, "garbled")
            #expect(plain?["type"] as? String == "NoopCompleted" && plain?["trace_id"] == nil)
            #expect(carried?["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(garbled?["type"] as? String == "NoopCompleted" && garbled?["trace_id"] == nil, "an unreadable traceparent is ignored")
            #expect(worker.logText.contains("traceparent is not W3C Trace Context"))
        }
    }
}
