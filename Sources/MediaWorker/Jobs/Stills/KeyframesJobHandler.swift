import Foundation
import JobContract
import Storage

/// `keyframes`: the video's keyframes (options `max_count`, `min_interval_s`, `scene_threshold`),
/// uploaded into a version; publication appends one `KeyframeReady` per keyframe, then
/// `KeyframesCompleted`, in one step: each exactly once, and only for published images.
public struct KeyframesJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JobResult {
        let options = try job.options(KeyframesJobOptions.self)
        let io = try JobIO(pipeline: pipeline, job: job)
        return try await runMediaJob(io: io) {
            let version = try io.newVersion()
            let (path, _) = try await io.fetchInput()
            await job.progress(0.2)
            let output = io.directory + "/out"
            let folder = output + "/keyframes"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let images = try await MediaStills.keyframes(
                input: path, outputDirectory: folder,
                options: KeyframeOptions(maxCount: Int32(options.maxCount), minIntervalSeconds: options.minIntervalSeconds,
                                         sceneThreshold: options.sceneThreshold),
                image: ImageSpec(options.image), limits: pipeline.mediaLimits) { fraction in Task { await job.progress(0.2 + fraction * 0.5) } }
            try await io.upload(output, to: version) { fraction in Task { await job.progress(0.7 + fraction * 0.3) } }
            let listed: [JSONValue] = images.map { image in
                let name = image.path.split(separator: "/").last.map(String.init) ?? "keyframe.jpg"
                var data = image.json(url: version.url.appending("keyframes/" + name)).objectValue ?? [:]
                data["asset_id"] = .string("\(io.fileID):keyframe:\(image.index)")
                data["index"] = .integer(image.index)
                data["file_id"] = .string(io.fileID)
                return .object(data)
            }
            return JobResult(
                data: .object(["file_id": .string(io.fileID), "count": .integer(listed.count), "keyframes": .array(listed),
                               "version": .string(version.id)]),
                version: version, assets: listed.map { (type: "KeyframeReady", data: $0) })
        }
    }
}
