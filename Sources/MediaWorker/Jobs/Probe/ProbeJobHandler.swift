import Foundation
import JobContract
import Storage

/// `probe`: the input's container and streams (`ProbeCompleted`), read by the shim.
public struct ProbeJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JobResult {
        _ = try job.options(ProbeJobOptions.self)
        let io = try JobIO(pipeline: pipeline, job: job)
        return try await runMediaJob(io: io) {
            let (path, object) = try await io.fetchInput()
            await job.progress(0.5)
            let info = try await MediaProbe.probe(path: path, limits: pipeline.mediaLimits)
            let encoded = try JSONEncoder().encode(info)
            guard let media = try? JSONValue.parse(Array(encoded)) else { throw JobFailure.invalidJob("probe result not encodable") }
            return JobResult(data: .object(["input": .string(io.input?.description ?? ""), "size_bytes": .integer(object.size), "media": media]))
        }
    }
}
