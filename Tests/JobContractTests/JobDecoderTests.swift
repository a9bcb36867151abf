import Foundation
import JobContract
import Testing

@Suite("JobDecoder")
struct JobDecoderTests {
    let decoder: JobDecoder = {
        var decoder = JobDecoder(defaultOutputURL: "s3://media/")
        decoder.now = { Date(timeIntervalSince1970: 1_800_000_000) }
        return decoder
    }()

    func jobs(_ text: String) throws -> [NewJob] {
        guard case .jobs(let jobs) = decoder.decide(Array(text.utf8)) else {
            Issue.record("expected jobs from \(text.prefix(200))")
            return []
        }
        return jobs
    }

    func rejection(_ bytes: [UInt8]) -> RejectedItem? {
        if case .rejected(let item) = decoder.decide(bytes) { return item }
        return nil
    }

    @Test("a full envelope: fields kept, defaults applied, id generated when absent")
    func fullEnvelope() throws {
        let job = try #require(try jobs("""
            {"id":"job-1","type":"transcode","priority":"high","max_attempts":3,"delay_ms":1500,"timeout_s":600,
             "input":{"url":"s3://raw/file-555.mp4"},"output":{"url":"s3://media/file-555/"},"file_id":"file-555",
             "movie_id":"movie-101","options":{"renditions":[720]},"metadata":{"tenant":"acme","tags":["a"]}}
            """).first)
        #expect(job.id == "job-1" && job.type == "transcode" && job.priority == .high && job.maxAttempts == 3)
        #expect(job.delayMilliseconds == 1500 && job.runAtMilliseconds == nil)
        #expect(job.timeoutSeconds == 600 && job.fileID == "file-555" && job.movieID == "movie-101")
        #expect(job.metadataJSON == #"{"tags":["a"],"tenant":"acme"}"#)
        let payload = try JSONDecoder().decode(JSONValue.self, from: Data(job.payload.utf8))
        #expect(payload["input"]?["url"]?.stringValue == "s3://raw/file-555.mp4")

        let minimal = try #require(try jobs(#"{"type":"probe","input":{"url":"file:///srv/in.mp4"}}"#).first)
        #expect(UUID(uuidString: minimal.id) != nil)
        #expect(minimal.priority == .normal && minimal.maxAttempts == 5 && minimal.timeoutSeconds == 3600 && minimal.runAtMilliseconds == nil)
        let normalized = try JSONDecoder().decode(JSONValue.self, from: Data(minimal.payload.utf8))
        #expect(normalized["id"]?.stringValue == minimal.id)
    }

    @Test("run_at in RFC 3339")
    func runAt() throws {
        let job = try #require(try jobs(#"{"type":"noop","run_at":"2027-01-15T08:00:00Z"}"#).first)
        #expect(job.runAtMilliseconds == Int64(try Date("2027-01-15T08:00:00Z", strategy: .iso8601).timeIntervalSince1970 * 1000))
    }

    @Test("each kind of bad item gets its own code", arguments: [
        ("{oops", "JOB_INVALID_JSON"),
        ("42", "JOB_NOT_AN_OBJECT"),
        (#"{"input":{"url":"s3://a/b"}}"#, "JOB_MISSING_FIELD"),
        (#"{"type":"resize"}"#, "JOB_UNKNOWN_TYPE"),
        (#"{"type":true}"#, "JOB_MISSING_FIELD"),
        (#"{"type":"transcode"}"#, "JOB_MISSING_FIELD"),
        (#"{"type":"transcode","input":{"url":"http://169.254.169.254/latest"}}"#, "JOB_INVALID_URL"),
        (#"{"type":"transcode","input":{"url":"file://relative/x.mp4"}}"#, "JOB_INVALID_URL"),
        (#"{"type":"transcode","input":"s3://a/b"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","priority":"urgent"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","max_attempts":0}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","max_attempts":true}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","max_attempts":1e300}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","timeout_s":-1}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","delay_ms":2.5}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","delay_ms":10,"run_at":"2027-01-01T00:00:00Z"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","run_at":"tomorrow"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","id":"../../etc"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","id":"a\u0000b"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","movie_id":"movie\n101"}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","options":[1]}"#, "JOB_INVALID_FIELD"),
        (#"{"type":"noop","metadata":"x"}"#, "JOB_INVALID_FIELD"),
        ("[{\"no\":\"event\"}]", "JOB_INVALID_NOTIFICATION"),
    ])
    func rejected(text: String, code: String) throws {
        let item = try #require(rejection(Array(text.utf8)))
        #expect(item.code == code, "\(item.message)")
        #expect(!item.message.isEmpty)
    }

    @Test("size, encoding and depth are checked before parsing")
    func hostileShapes() throws {
        #expect(rejection(Array(repeating: UInt8(ascii: " "), count: (1 << 20) + 1))?.code == "JOB_TOO_LARGE")
        #expect(rejection([0x7B, 0xFF, 0x7D])?.code == "JOB_INVALID_UTF8")
        #expect(rejection(Array(String(repeating: "[", count: 50_000).utf8))?.code == "JOB_TOO_DEEP")
        #expect(rejection(Array(#"{"type":"noop","s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#.utf8)) == nil)
    }

    @Test("a rejected item keeps its id and type when they could be read")
    func rejectionKeepsIdentity() throws {
        let item = try #require(rejection(Array(#"{"id":"j-9","type":"transcode","priority":"now"}"#.utf8)))
        #expect(item.id == "j-9" && item.type == "transcode")
    }

    static let minioRecord = """
        [{"Event":[{"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-11-21T10:00:00.000Z",
          "eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"minio"},
          "s3":{"s3SchemaVersion":"1.0","configurationId":"Config",
                "bucket":{"name":"raw","ownerIdentity":{"principalId":"minio"},"arn":"arn:aws:s3:::raw"},
                "object":{"key":"uploads%2FMy+Holiday%252B2026+%C3%A9t%C3%A9.mp4","size":1048576,"eTag":"abc123",
                          "contentType":"video/mp4","userMetadata":{"X-Amz-Meta-Movie-Id":"movie-101","content-type":"video/mp4"},
                          "sequencer":"17A9B6F1D2C3E4F5"}}}],
          "EventTime":"2026-11-21T10:00:00.000Z"}]
        """

    @Test("a MinIO ObjectCreated record becomes a transcode job; the key is decoded exactly once")
    func minioRecord() throws {
        let job = try #require(try jobs(Self.minioRecord).first)
        #expect(job.type == "transcode")
        #expect(job.movieID == "movie-101")
        let payload = try JSONDecoder().decode(JSONValue.self, from: Data(job.payload.utf8))
        #expect(payload["input"]?["url"]?.stringValue == "s3://raw/uploads/My Holiday%2B2026 été.mp4")
        #expect(payload["output"]?["url"]?.stringValue == "s3://media/")
        #expect(job.id.hasPrefix("s3-") && job.id.count == 35)
        #expect(try jobs(Self.minioRecord).first?.id == job.id, "the same notification delivered twice is one job")
        let metadata = try JSONDecoder().decode(JSONValue.self, from: Data(job.metadataJSON.utf8))
        #expect(metadata["source"]?.stringValue == "minio")
    }

    @Test("the movie-id metadata key is matched case-insensitively; removals are ignored")
    func minioVariants() throws {
        let lower = Self.minioRecord.replacingOccurrences(of: "X-Amz-Meta-Movie-Id", with: "x-amz-meta-movie-id")
        #expect(try jobs(lower).first?.movieID == "movie-101")
        let removed = Self.minioRecord.replacingOccurrences(of: "s3:ObjectCreated:Put", with: "s3:ObjectRemoved:Delete")
        #expect(decoder.decide(Array(removed.utf8)) == .ignored)
        let hostile = Self.minioRecord.replacingOccurrences(of: "movie-101", with: "movie\\u0007101")
        #expect(rejection(Array(hostile.utf8))?.code == "JOB_INVALID_FIELD")
    }
}
