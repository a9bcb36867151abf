import Crypto
import Foundation

/// Turns one inbox item (bytes a producer pushed) into jobs, or into a rejection that
/// makes a dead job with a clear reason. Accepts the job envelope of the design and
/// MinIO's Redis notification records (format `access`).
public struct JobDecoder: Sendable {
    public struct Limits: Sendable {
        public var maxPayloadBytes = 1 << 20
        public var maxDepth = 32
        public var maxMetadataBytes = 16 << 10
        public var maxAttempts = 25
        public var maxTimeoutSeconds = 7 * 24 * 3600
        public var maxDelayMilliseconds: Int64 = 30 * 24 * 3600 * 1000
        public init() {}
    }

    public var limits = Limits()
    public var defaultMaxAttempts = 5
    public var defaultTimeoutSeconds = 3600
    /// Where jobs made from MinIO notifications write (`MW_DEFAULT_OUTPUT_URL`).
    public var defaultOutputURL: String?
    /// The clock for `run_at` (injectable for tests).
    public var now: @Sendable () -> Date = { Date() }

    public init(defaultOutputURL: String? = nil) {
        self.defaultOutputURL = defaultOutputURL
    }

    public func decide(_ bytes: [UInt8]) -> InboxDecision {
        do {
            let value = try parse(bytes)
            if case .array(let records) = value { return try minioJobs(records) }
            return .jobs([try job(from: value)])
        } catch {
            // An item too large or not JSON may still name itself early on: the producer can then
            // find its dead job by the id it chose.
            var id = error.id
            var type = error.type
            if id == nil {
                let named = TopLevelFields.scan(bytes.prefix(limits.maxPayloadBytes))
                id = named.id.flatMap { Self.isSafeIdentifier($0) ? $0 : nil }
                type = type ?? named.type.flatMap { JobType(rawValue: $0)?.rawValue }
            }
            return .rejected(RejectedItem(
                id: id ?? "rejected-\(UUID().uuidString.lowercased())", type: type,
                code: error.code.rawValue, message: error.message))
        }
    }

    func parse(_ bytes: [UInt8]) throws(JobRejection) -> JSONValue {
        guard bytes.count <= limits.maxPayloadBytes else {
            throw JobRejection(.tooLarge, "payload is \(bytes.count) bytes, over the limit of \(limits.maxPayloadBytes)")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw JobRejection(.invalidUTF8, "payload is not valid UTF-8")
        }
        do {
            return try JSONValue.parse(bytes, maxDepth: limits.maxDepth)
        } catch {
            if error.reason.hasPrefix("nesting deeper") {
                throw JobRejection(.tooDeep, "payload nests deeper than \(limits.maxDepth) levels")
            }
            throw JobRejection(.invalidJSON, "payload is not JSON: \(error)")
        }
    }

    /// Validates one envelope and makes it a job.
    func job(from value: JSONValue) throws(JobRejection) -> NewJob {
        guard case .object(let fields) = value else { throw JobRejection(.notAnObject, "a job must be a JSON object") }
        var id: String?
        if let raw = fields["id"], raw != .null {
            guard let text = raw.stringValue, Self.isSafeIdentifier(text) else {
                throw JobRejection(.invalidField, "id must be 1-128 characters of A-Z a-z 0-9 . _ : -")
            }
            id = text
        }
        let rawType = fields["type"]?.stringValue
        func reject(_ code: JobRejection.Code, _ message: String) -> JobRejection {
            JobRejection(code, message, id: id, type: rawType.flatMap { JobType(rawValue: $0) }?.rawValue)
        }
        guard let rawType else { throw reject(.missingField, "type is required (one of \(JobType.allCases.map(\.rawValue).joined(separator: ", ")))") }
        guard let type = JobType(rawValue: rawType) else {
            throw reject(.unknownType, "unknown type '\(rawType.prefix(64))' (one of \(JobType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }

        var priority = JobPriority.normal
        if let raw = fields["priority"], raw != .null {
            guard let text = raw.stringValue, let value = JobPriority(rawValue: text) else {
                throw reject(.invalidField, "priority must be high, normal or low")
            }
            priority = value
        }
        let maxAttempts = try integer(fields["max_attempts"], name: "max_attempts", range: 1...limits.maxAttempts, reject: reject) ?? defaultMaxAttempts
        let timeout = try integer(fields["timeout_s"], name: "timeout_s", range: 1...limits.maxTimeoutSeconds, reject: reject) ?? defaultTimeoutSeconds

        var runAt: Int64?
        // A delay stays relative until Redis applies it with its own clock: no skew between hosts.
        let delay = try integer(fields["delay_ms"], name: "delay_ms", range: 0...Int(limits.maxDelayMilliseconds), reject: reject)
        if let raw = fields["run_at"], raw != .null {
            guard delay == nil else { throw reject(.invalidField, "give run_at or delay_ms, not both") }
            guard let text = raw.stringValue, let date = Self.parseRFC3339(text) else {
                throw reject(.invalidField, "run_at must be an RFC 3339 time such as 2026-11-21T10:00:00Z")
            }
            let milliseconds = Int64(date.timeIntervalSince1970 * 1000)
            guard milliseconds - Int64(now().timeIntervalSince1970 * 1000) <= limits.maxDelayMilliseconds else {
                throw reject(.invalidField, "run_at is more than 30 days ahead")
            }
            runAt = milliseconds
        }

        for name in ["input", "output"] {
            guard let raw = fields[name], raw != .null else { continue }
            guard case .object(let location) = raw else { throw reject(.invalidField, "\(name) must be an object with a url") }
            guard let url = location["url"]?.stringValue else { throw reject(.missingField, "\(name).url is required") }
            guard Self.isStorageURL(url) else {
                throw reject(.invalidURL, "\(name).url must be an s3://bucket/key or file:///absolute/path URL")
            }
        }
        if type.needsInput && fields["input"]?["url"] == nil {
            throw reject(.missingField, "input.url is required for \(type.rawValue) jobs")
        }
        let fileID = try identifier(fields["file_id"], name: "file_id", reject: reject)
        let movieID = try identifier(fields["movie_id"], name: "movie_id", reject: reject)
        for name in ["options", "metadata"] {
            if let raw = fields[name], raw != .null, raw.objectValue == nil {
                throw reject(.invalidField, "\(name) must be an object")
            }
        }
        do throws(JobRejection) {
            try JobOptions.validate(fields["options"].flatMap { $0 == .null ? nil : $0 }, for: type)
        } catch {
            throw reject(error.code, error.message)
        }
        // The producer's trace context (W3C): strings of bounded size here; a traceparent that does
        // not parse is ignored when the job runs (the recommendation's rule), never a dead job.
        for name in ["traceparent", "tracestate"] {
            guard let raw = fields[name], raw != .null else { continue }
            guard let text = raw.stringValue, text.utf8.count <= 512 else {
                throw reject(.invalidField, "\(name) must be a W3C Trace Context string of at most 512 characters")
            }
        }
        let metadata = fields["metadata"].flatMap { $0 == .null ? nil : $0 }?.jsonText ?? "{}"
        guard metadata.utf8.count <= limits.maxMetadataBytes else {
            throw reject(.invalidField, "metadata is over \(limits.maxMetadataBytes) bytes")
        }

        let jobID = id ?? UUID().uuidString.lowercased()
        var normalized = fields
        normalized["id"] = .string(jobID)
        return NewJob(
            id: jobID, type: type.rawValue, priority: priority, maxAttempts: maxAttempts, runAtMilliseconds: runAt,
            delayMilliseconds: delay.map(Int64.init),
            timeoutSeconds: timeout, payload: JSONValue.object(normalized).jsonText, metadataJSON: metadata,
            fileID: fileID, movieID: movieID)
    }

    private func integer(
        _ value: JSONValue?, name: String, range: ClosedRange<Int>, reject: (JobRejection.Code, String) -> JobRejection
    ) throws(JobRejection) -> Int? {
        guard let value, value != .null else { return nil }
        guard let number = value.numberValue, number.rounded() == number, number >= Double(range.lowerBound),
              number <= Double(range.upperBound) else {
            throw reject(.invalidField, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(number)
    }

    private func identifier(
        _ value: JSONValue?, name: String, reject: (JobRejection.Code, String) -> JobRejection
    ) throws(JobRejection) -> String? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue, Self.isSafeIdentifier(text) else {
            throw reject(.invalidField, "\(name) must be 1-128 characters of A-Z a-z 0-9 . _ : -")
        }
        return text
    }

    /// Ids travel into keys, object names and events: a small alphabet keeps them harmless.
    public static func isSafeIdentifier(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
        }
    }

    /// Syntax only; which roots and buckets are allowed is the storage's decision when the job runs.
    public static func isStorageURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return false }
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            guard let slash = rest.firstIndex(of: "/") else { return !rest.isEmpty }
            return slash != rest.startIndex
        }
        if text.hasPrefix("file:///") { return true }
        return false
    }

    static func parseRFC3339(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }

}

extension JobDecoder {
    /// MinIO's Redis notification target (format `access`) pushes
    /// `[{"Event":[<S3 event record>...],"EventTime":"..."}]`. Each `s3:ObjectCreated:*`
    /// record becomes a transcode job of that object; other records are ignored.
    func minioJobs(_ entries: [JSONValue]) throws(JobRejection) -> InboxDecision {
        var jobs: [NewJob] = []
        var sawRecord = false
        for entry in entries {
            guard let records = entry["Event"]?.arrayValue else {
                throw JobRejection(.invalidNotification, "an array payload must be MinIO notification entries with an Event list")
            }
            for record in records {
                sawRecord = true
                guard let name = record["eventName"]?.stringValue else {
                    throw JobRejection(.invalidNotification, "a notification record has no eventName")
                }
                guard name.hasPrefix("s3:ObjectCreated:") else { continue }
                guard let bucket = record["s3"]?["bucket"]?["name"]?.stringValue,
                      let encodedKey = record["s3"]?["object"]?["key"]?.stringValue else {
                    throw JobRejection(.invalidNotification, "a notification record has no s3.bucket.name or s3.object.key")
                }
                guard let key = Self.decodeObjectKey(encodedKey), !key.isEmpty else {
                    throw JobRejection(.invalidNotification, "the object key '\(encodedKey.prefix(200))' is not URL-encoded text")
                }
                let sequencer = record["s3"]?["object"]?["sequencer"]?.stringValue ?? ""
                let eTag = record["s3"]?["object"]?["eTag"]?.stringValue ?? ""
                let digest = SHA256.hash(data: Data("\(bucket)/\(key)#\(sequencer)#\(eTag)".utf8))
                let id = "s3-" + digest.prefix(16).map { String(format: "%02x", $0) }.joined()

                var movieID: String?
                if let metadata = record["s3"]?["object"]?["userMetadata"]?.objectValue {
                    for (name, value) in metadata where ["x-amz-meta-movie-id", "movie-id"].contains(name.lowercased()) {
                        movieID = value.stringValue
                    }
                }
                if let candidate = movieID, !Self.isSafeIdentifier(candidate) {
                    throw JobRejection(.invalidField, "the object's movie-id metadata is not 1-128 characters of A-Z a-z 0-9 . _ : -", id: id, type: "transcode")
                }
                var envelope: [String: JSONValue] = [
                    "type": .string("transcode"),
                    "input": .object(["url": .string("s3://\(bucket)/\(key)")]),
                    "metadata": .object([
                        "source": .string("minio"), "event_name": .string(name),
                        "event_time": entry["EventTime"] ?? .null,
                    ]),
                    "id": .string(id),
                ]
                if let output = defaultOutputURL { envelope["output"] = .object(["url": .string(output)]) }
                if let movieID { envelope["movie_id"] = .string(movieID) }
                jobs.append(try job(from: .object(envelope)))
            }
        }
        if !sawRecord { throw JobRejection(.invalidNotification, "the notification has no records") }
        return jobs.isEmpty ? .ignored : .jobs(jobs)
    }

    /// S3 event keys are form-encoded ('+' for space, %XX for bytes): decoded exactly once,
    /// so a key that really contains "%2B" arrives as "%252B" and comes out as "%2B".
    static func decodeObjectKey(_ encoded: String) -> String? {
        encoded.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
