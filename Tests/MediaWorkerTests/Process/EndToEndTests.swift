import Foundation
import TestSupport
import Testing

/// The whole product: a Python producer (redis-py, boto3) uploads to moto (signatures checked)
/// and enqueues as the README says; a worker process transcodes; a consumer group reads the events.
@Suite("End to end with moto and a Python producer", .serialized)
struct EndToEndTests {
    struct Report: Decodable {
        struct Terminal: Decodable {
            var type: String
            var file_id: String?
            var meta_movie_id: String?
            var data: [String: JSONAny]
        }
        var terminal: Terminal?
        var invalid_events: [String]
        var objects: [String]
        var play_errors: String?
        var events: [JSONAny]
    }

    /// Any JSON, decoded only to be counted or inspected loosely.
    struct JSONAny: Decodable {
        let value: Any
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { value = text }
            else if let number = try? container.decode(Double.self) { value = number }
            else if let flag = try? container.decode(Bool.self) { value = flag }
            else if let object = try? container.decode([String: JSONAny].self) { value = object.mapValues(\.value) }
            else if let array = try? container.decode([JSONAny].self) { value = array.map(\.value) }
            else { value = NSNull() }
        }
    }

    func run(mode: String, fixture: String, key: String, movieID: String) async throws -> Report {
        let directory = try makeTestDirectory("e2e")
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await MotoServer.with(buckets: ["raw", "media"]) { moto in
            try await RedisServer.with { redis in
                let environment = moto.credentials.environment.merging([
                    "MW_S3_BUCKETS": "raw,media", "MW_DEFAULT_OUTPUT_URL": "s3://media/", "MW_LOG_LEVEL": "debug",
                ]) { $1 }
                let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory, environment: environment)
                defer { worker.process.signal(SIGKILL) }
                #expect(await worker.waitUntilReady(), "\(worker.logText)")
                let spec: [String: Any] = [
                    "redis_url": redis.url, "endpoint": moto.endpoint, "access_key": moto.credentials.accessKeyID,
                    "secret_key": moto.credentials.secretAccessKey, "region": moto.credentials.region,
                    "fixture": try ProjectPaths.fixture(fixture), "raw_bucket": "raw", "media_bucket": "media", "key": key,
                    "movie_id": movieID, "mode": mode, "job_id": "e2e-\(mode)",
                    "schema": ProjectPaths.root.appendingPathComponent("contracts/event.schema.json").path, "timeout_s": 150,
                ]
                let python = ProjectPaths.venvBin.appendingPathComponent("python").path
                let result = try await CommandRunner.run(
                    python, [ProjectPaths.scripts.appendingPathComponent("test/e2e_producer.py").path,
                             String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)], timeout: .seconds(200))
                #expect(result.succeeded, "\(result.stderr)\n\(worker.logText)")
                // The secret key never reaches the worker's logs, debug level included.
                #expect(!worker.logText.contains(moto.credentials.secretAccessKey))
                return try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            }
        }
    }

    @Test("a job pushed with redis-py: TranscodeCompleted with the object's movie id, valid events, a package that plays")
    func jobEnvelope() async throws {
        let report = try await run(mode: "job", fixture: "h264-aac-1080p30-10s.mp4", key: "uploads/file-555.mp4", movieID: "movie-101")
        let terminal = try #require(report.terminal)
        #expect(terminal.type == "TranscodeCompleted")
        #expect(terminal.meta_movie_id == "movie-101" && terminal.file_id == "file-555")
        #expect(report.invalid_events.isEmpty, "\(report.invalid_events)")
        #expect(report.play_errors == "", "\(report.play_errors ?? "not played")")
        let version = try #require(terminal.data["version"]?.value as? String)
        #expect(report.objects.contains("file-555/hls/master.m3u8") && report.objects.contains("file-555/v/\(version)/poster.jpg"))
        #expect(report.objects.allSatisfy { $0.hasPrefix("file-555/") })
    }

    @Test("a MinIO notification record instead of a job: the same, with the movie id from userMetadata")
    func minioRecord() async throws {
        let report = try await run(mode: "minio", fixture: "h264-aac-1080p30-10s.mp4", key: "uploads/My Holiday+2026 été.mp4", movieID: "movie-202")
        let terminal = try #require(report.terminal)
        #expect(terminal.type == "TranscodeCompleted", "\(report)")
        #expect(terminal.meta_movie_id == "movie-202")
        #expect(report.invalid_events.isEmpty, "\(report.invalid_events)")
        #expect(report.play_errors == "", "\(report.play_errors ?? "not played")")
    }

    @Test("a corrupt upload: TranscodeFailed with its code and no object under the output prefix")
    func corruptUpload() async throws {
        let report = try await run(mode: "job", fixture: "bad-truncated-no-moov.mp4", key: "uploads/broken.mp4", movieID: "movie-303")
        let terminal = try #require(report.terminal)
        #expect(terminal.type == "TranscodeFailed")
        #expect(terminal.data["error_code"]?.value as? String == "MEDIA_INPUT_CORRUPT")
        #expect(terminal.meta_movie_id == "movie-303")
        #expect(report.objects.isEmpty, "\(report.objects)")
        #expect(report.invalid_events.isEmpty, "\(report.invalid_events)")
    }
}
