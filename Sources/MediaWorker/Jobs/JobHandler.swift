import Foundation

/// Runs one type of job. It returns the data of the job's completion event and what
/// publication writes, or throws a `JobFailure` (or any error, taken as a retryable internal
/// failure). It must stop soon after its task is cancelled (cancel request, lost lease,
/// timeout, shutdown).
public protocol JobHandler: Sendable {
    func run(_ job: JobContext) async throws -> JobResult
    /// Whether its jobs decode or encode media (large buffers from many threads): the worker
    /// gives freed heap pages back after those (`HeapTrim`). Yes unless a handler says otherwise.
    var handlesMedia: Bool { get }
}

extension JobHandler {
    public var handlesMedia: Bool { true }
}
