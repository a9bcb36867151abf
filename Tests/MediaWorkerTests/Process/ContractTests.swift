import Foundation
import JobContract
import MediaWorker
import QueueClient
import RedisClient
import TestSupport
import Testing

/// contracts/*.schema.json against what the code accepts and emits, judged by Python's
/// `jsonschema` (an independent validator).
@Suite("Contracts")
struct ContractTests {
    static func validate(_ documents: [String], schema: String) async throws -> [String] {
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        let directory = try makeTestDirectory("contracts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("documents.jsonl")
        try documents.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        let result = try await CommandRunner.run(
            "/bin/sh", ["-c", "\"$0\" \"$1\" \"$2\" < \"$3\"", python, ProjectPaths.scripts.appendingPathComponent("test/validate_json.py").path,
                        ProjectPaths.root.appendingPathComponent("contracts/\(schema)").path, input.path])
        #expect(result.succeeded, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    static let envelopes = [
        #"{"type":"transcode","input":{"url":"s3://raw/file-555.mp4"},"output":{"url":"s3://media/file-555/"},"movie_id":"movie-101"}"#,
        #"{"id":"j1","type":"probe","priority":"low","max_attempts":2,"timeout_s":60,"input":{"url":"file:///srv/media/in.mp4"}}"#,
        #"{"type":"noop","delay_ms":1000,"metadata":{"tenant":"acme"},"options":{"duration_ms":5}}"#,
        #"{"type":"compose","run_at":"2026-11-25T00:00:00Z","options":{"scenes":[]}}"#,
        #"{"type":"keyframes","input":{"url":"s3://raw/a b.mp4"},"file_id":"file-1"}"#,
        #"{"type":"nope"}"#,
        #"{"input":{"url":"s3://raw/x"}}"#,
        #"{"type":"transcode"}"#,
        #"{"type":"transcode","input":{"url":"https://example.com/x.mp4"}}"#,
        #"{"type":"noop","priority":"urgent"}"#,
        #"{"type":"noop","max_attempts":0}"#,
        #"{"type":"noop","max_attempts":"3"}"#,
        #"{"type":"noop","delay_ms":5,"run_at":"2027-01-01T00:00:00Z"}"#,
        #"{"type":"noop","id":"has space"}"#,
        #"{"type":"noop","movie_id":""}"#,
        #"{"type":"noop","options":[]}"#,
        #"{"type":"noop","timeout_s":0}"#,
        #"{"type":"thumbnails","input":{}}"#,
    ]

    @Test("the job schema and the job decoder accept and refuse the same envelopes")
    func jobSchemaAgreesWithDecoder() async throws {
        let verdicts = try await Self.validate(Self.envelopes, schema: "job.schema.json")
        #expect(verdicts.count == Self.envelopes.count)
        let decoder = JobDecoder()
        for (envelope, verdict) in zip(Self.envelopes, verdicts) {
            var accepted = false
            if case .jobs = decoder.decide(Array(envelope.utf8)) { accepted = true }
            #expect(accepted == (verdict == "ok"), "decoder \(accepted ? "accepts" : "refuses") but schema says \(verdict): \(envelope)")
        }
    }

    @Test("every event a worker emits validates against the event schema")
    func emittedEventsValidate() async throws {
        let directory = try makeTestDirectory("contracts")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory,
                                                 environment: ["MW_RETRY_BASE_S": "0.01", "MW_RETRY_CAP_S": "0.02"])
            defer { worker.process.signal(SIGKILL) }
            #expect(await worker.waitUntilReady())
            let probe = try QueueProbe(redisURL: redis.url)
            try await probe.push(#"{"id":"ok","type":"noop","metadata":{"tenant":"acme"},"options":{"duration_ms":300}}"#)
            try await probe.push(#"{"id":"retry","type":"noop","max_attempts":2,"options":{"fail_with":{"code":"DRILL","retryable":true}}}"#)
            try await probe.push(#"{"id":"later","type":"noop","delay_ms":60000}"#)
            try await probe.push(#"{"id":"t","type":"transcode","input":{"url":"s3://raw/x.mp4"}}"#)
            try await probe.push("not json")
            #expect(await eventually {
                let terminal = try await probe.terminalEvents()
                return ["ok", "retry", "t"].allSatisfy { terminal[$0] != nil } && terminal.count >= 4
            })
            #expect(try await probe.queue.cancel(id: "later") == .canceled)
            let reply = try await probe.queue.client.command(["XRANGE", probe.queue.eventsKey, "-", "+"])
            let documents: [String] = (reply.array ?? []).compactMap { entry in
                let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
                return fields.firstIndex(of: "event").map { fields[$0 + 1] }
            }
            let types = Set(try await probe.events().compactMap { $0["type"] as? String })
            #expect(types.isSuperset(of: ["JobQueued", "JobDelayed", "JobStarted", "JobProgress", "JobRetryScheduled",
                                          "NoopCompleted", "NoopFailed", "NoopCanceled", "TranscodeFailed", "JobFailed"]), "\(types)")
            let verdicts = try await Self.validate(documents, schema: "event.schema.json")
            for (document, verdict) in zip(documents, verdicts) {
                #expect(verdict == "ok", "\(verdict): \(document)")
            }
            #expect(verdicts.count == documents.count)
            await probe.queue.client.close()
        }
    }
}
