import JobContract
/// `noop`: waits `options.duration_ms` (default 0), honouring cancellation, and completes.
/// `options.fail_with: {code, retryable}` makes it fail instead, for drills of the
/// retry and dead-letter paths in a real deployment.
public struct NoopJobHandler: JobHandler {
    public init() {}

    public var handlesMedia: Bool { false }

    public func run(_ job: JobContext) async throws -> JobResult {
        let options = try job.options(NoopJobOptions.self)
        let duration = options.durationMilliseconds
        if duration > 0 {
            let steps = max(1, Int(duration / 250))
            for step in 1...steps {
                try await Task.sleep(for: .milliseconds(Int64(duration) / Int64(steps)))
                await job.progress(Double(step) / Double(steps))
            }
        }
        if let failure = options.failWith {
            throw JobFailure(code: failure.code, message: "failure drill requested by the job", retryable: failure.retryable ?? false)
        }
        return JobResult(data: .object(["waited_ms": .double(duration)]))
    }
}
