/// The typed options of one job type: decoded from `options` after its schema
/// (`contracts/options/<type>.schema.json`) accepted them, then checked for what a schema
/// cannot say (an NTSC frame rate, a scene's parts that must agree).
public protocol JobOptionsType: Decodable, Sendable {
    static var jobType: JobType { get }
    /// Rules beyond the schema; throws the field and the reason.
    func check() throws(JSONValueDecodingError)
}

extension JobOptionsType {
    public func check() throws(JSONValueDecodingError) {}
}

/// Validation of a job's `options`: the same rules at ingest (a bad option makes the job dead at
/// once, `JOB_INVALID_FIELD`) and when a handler reads them.
public enum JobOptions {
    /// Checks `options` (nil: none given) of a `type` job against its schema and its typed rules.
    public static func validate(_ options: JSONValue?, for type: JobType) throws(JobRejection) {
        switch type {
        case .transcode: _ = try decode(TranscodeJobOptions.self, from: options)
        case .thumbnails: _ = try decode(ThumbnailsJobOptions.self, from: options)
        case .keyframes: _ = try decode(KeyframesJobOptions.self, from: options)
        case .compose: _ = try decode(ComposeJobOptions.self, from: options)
        case .probe: _ = try decode(ProbeJobOptions.self, from: options)
        case .noop: _ = try decode(NoopJobOptions.self, from: options)
        }
    }

    /// The typed options, or a rejection naming the first field at fault.
    public static func decode<Options: JobOptionsType>(_ type: Options.Type, from options: JSONValue?) throws(JobRejection) -> Options {
        let value = options ?? .object([:])
        let violations = ContractSchemas.registry.validate(value, against: ContractSchemas.optionsID(Options.jobType), path: "options")
        if let first = violations.first { throw rejection(first, type: Options.jobType) }
        do {
            let decoded = try JSONValueDecoder(rootPath: "options").decode(Options.self, from: value)
            try decoded.check()
            return decoded
        } catch let error as JSONValueDecodingError {
            throw JobRejection(.invalidField, "\(error.path) \(error.message)", type: Options.jobType.rawValue)
        } catch {
            throw JobRejection(.invalidField, "options: \(error)", type: Options.jobType.rawValue)
        }
    }

    static func rejection(_ violation: SchemaViolation, type: JobType) -> JobRejection {
        switch violation.kind {
        case .unknownProperty(let known):
            let name = String(violation.path.split(separator: ".").last ?? "")
            let suggestion = closest(to: name, in: known).map { " (did you mean \($0)?)" } ?? ""
            let list = known.isEmpty ? "it takes none" : "known: " + known.joined(separator: ", ")
            return JobRejection(.invalidField, "\(violation.path) is not an option of \(type.rawValue) jobs\(suggestion); \(list)",
                                type: type.rawValue)
        case .missingProperty:
            return JobRejection(.missingField, "\(violation.path) is required", type: type.rawValue)
        case .other:
            return JobRejection(.invalidField, "\(violation.path) \(violation.message)", type: type.rawValue)
        }
    }

    /// The known name a typo most likely meant (edit distance at most a third of its length).
    static func closest(to name: String, in known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(Array(name.utf8), Array($0.utf8))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, best.0.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
