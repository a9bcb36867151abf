import Foundation
import JobContract
import Storage

/// `thumbnails`: `options.count` evenly spaced (default 10) or `options.times_s`, fitted into
/// `options.max_width`/`max_height` (default 640 wide), uploaded to `<version>/thumbnails/`.
public struct ThumbnailsJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JobResult {
        let options = try job.options(ThumbnailsJobOptions.self)
        let io = try JobIO(pipeline: pipeline, job: job)
        return try await runMediaJob(io: io) {
            let version = try io.newVersion()
            let (path, _) = try await io.fetchInput()
            await job.progress(0.2)
            let output = io.directory + "/out"
            let folder = output + "/thumbnails"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let images = try await MediaStills.thumbnails(input: path, outputDirectory: folder, times: options.times, count: options.count,
                                                          image: ImageSpec(options.image), limits: pipeline.mediaLimits) { fraction in
                Task { await job.progress(0.2 + fraction * 0.6) }
            }
            try await io.upload(output, to: version) { fraction in Task { await job.progress(0.8 + fraction * 0.2) } }
            let listed = images.map { image in
                image.json(url: version.url.appending("thumbnails/" + (image.path.split(separator: "/").last.map(String.init) ?? "thumb.jpg")))
            }
            return JobResult(data: .object(["file_id": .string(io.fileID), "thumbnails": .array(listed), "version": .string(version.id)]),
                             version: version)
        }
    }
}
