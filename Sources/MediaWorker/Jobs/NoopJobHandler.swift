/// `noop`: waits `options.duration_ms` (default 0), honouring cancellation, and completes.
/// `options.fail_with: {code, retryable}` makes it fail instead, for drills of the
/// retry and dead-letter paths in a real deployment.
public struct NoopJobHandler: JobHandler {
    public init() {}

    public func run(_ job: JobContext) async throws -> JSONValue {
        let duration = job.options["duration_ms"]?.numberValue ?? 0
        guard duration >= 0, duration <= 24 * 3600 * 1000 else {
            throw JobFailure.invalidJob("options.duration_ms must be from 0 to 86400000")
        }
        if duration > 0 {
            let steps = max(1, Int(duration / 250))
            for step in 1...steps {
                try await Task.sleep(for: .milliseconds(Int64(duration) / Int64(steps)))
                await job.progress(Double(step) / Double(steps))
            }
        }
        if let failure = job.options["fail_with"]?.objectValue {
            throw JobFailure(
                code: failure["code"]?.stringValue ?? "NOOP_DRILL", message: "failure drill requested by the job",
                retryable: failure["retryable"]?.boolValue ?? false)
        }
        return .object(["waited_ms": .number(duration)])
    }
}
