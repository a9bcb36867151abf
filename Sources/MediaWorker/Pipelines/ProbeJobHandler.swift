import Foundation

/// `probe`: the input's container and streams (`ProbeCompleted`), read by the shim.
public struct ProbeJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JSONValue {
        let io = try JobIO(pipeline: pipeline, job: job)
        let ledger = UploadLedger(storage: pipeline.storage)
        return try await runMediaJob(io: io, ledger: ledger) {
            let (path, object) = try await io.fetchInput()
            await job.progress(0.5)
            let info = try await MediaProbe.probe(path: path, limits: pipeline.mediaLimits)
            let encoded = try JSONEncoder().encode(info)
            guard let media = try? JSONValue.parse(Array(encoded)) else { throw JobFailure.invalidJob("probe result not encodable") }
            return .object(["input": .string(io.input?.description ?? ""), "size_bytes": .number(Double(object.size)), "media": media])
        }
    }
}

extension StillImage {
    /// The event form of an uploaded still.
    func json(url: StorageLocation) -> JSONValue {
        .object(["url": .string(url.description), "time_s": .number((timeSeconds * 1000).rounded() / 1000),
                 "width": .number(Double(width)), "height": .number(Double(height))])
    }
}

/// `thumbnails`: `options.count` evenly spaced (default 10) or `options.times_s`, fitted into
/// `options.max_width`/`max_height` (default 640 wide), uploaded to `<output>/<file_id>/thumbnails/`.
public struct ThumbnailsJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JSONValue {
        let io = try JobIO(pipeline: pipeline, job: job)
        let ledger = UploadLedger(storage: pipeline.storage)
        let options = job.options
        let times = try options["times_s"].map { value throws(JobFailure) -> [Double] in
            guard let list = value.arrayValue?.compactMap(\.numberValue), list.count == value.arrayValue?.count,
                  (1...1000).contains(list.count), list.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw JobFailure.invalidJob("options.times_s must be 1-1000 non-negative numbers")
            }
            return list
        }
        let count = Int(options["count"]?.numberValue ?? 10)
        guard (1...1000).contains(count) else { throw JobFailure.invalidJob("options.count must be 1-1000") }
        let spec = try imageSpec(options)
        return try await runMediaJob(io: io, ledger: ledger) {
            let prefix = try io.outputPrefix()
            let (path, _) = try await io.fetchInput()
            await job.progress(0.2)
            let folder = io.directory + "/thumbnails"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let images = try await MediaStills.thumbnails(input: path, outputDirectory: folder, times: times, count: count, image: spec,
                                                          limits: pipeline.mediaLimits) { fraction in
                Task { await job.progress(0.2 + fraction * 0.6) }
            }
            var listed: [JSONValue] = []
            for image in images {
                let location = prefix.appending("thumbnails/" + (image.path.split(separator: "/").last.map(String.init) ?? "thumb.jpg"))
                try await ledger.upload(image.path, to: location)
                listed.append(image.json(url: location))
            }
            return .object(["file_id": .string(io.fileID), "thumbnails": .array(listed)])
        }
    }
}

func imageSpec(_ options: [String: JSONValue]) throws(JobFailure) -> ImageSpec {
    let width = options["max_width"]?.numberValue ?? 640
    let height = options["max_height"]?.numberValue ?? 0
    let quality = options["quality"]?.numberValue ?? 3
    guard (0...8192).contains(width), (0...8192).contains(height), (2...31).contains(quality) else {
        throw JobFailure.invalidJob("max_width/max_height must be 0-8192 and quality 2-31")
    }
    return ImageSpec(maxWidth: Int32(width), maxHeight: Int32(height), quality: Int32(quality))
}

/// `keyframes`: the video's keyframes (options `max_count`, `min_interval_s`, `scene_threshold`),
/// each uploaded and announced by a `KeyframeReady` event, then `KeyframesCompleted`.
public struct KeyframesJobHandler: JobHandler {
    let pipeline: PipelineContext

    public init(pipeline: PipelineContext) { self.pipeline = pipeline }

    public func run(_ job: JobContext) async throws -> JSONValue {
        let io = try JobIO(pipeline: pipeline, job: job)
        let ledger = UploadLedger(storage: pipeline.storage)
        let options = job.options
        let maxCount = options["max_count"]?.numberValue ?? 0
        let interval = options["min_interval_s"]?.numberValue ?? 0
        let threshold = options["scene_threshold"]?.numberValue ?? 0
        guard (0...100_000).contains(maxCount), interval >= 0, interval.isFinite, (0...1).contains(threshold) else {
            throw JobFailure.invalidJob("max_count 0-100000, min_interval_s >= 0, scene_threshold 0-1")
        }
        let spec = try imageSpec(options)
        return try await runMediaJob(io: io, ledger: ledger) {
            let prefix = try io.outputPrefix()
            let (path, _) = try await io.fetchInput()
            await job.progress(0.2)
            let folder = io.directory + "/keyframes"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let images = try await MediaStills.keyframes(
                input: path, outputDirectory: folder,
                options: KeyframeOptions(maxCount: Int32(maxCount), minIntervalSeconds: interval, sceneThreshold: threshold),
                image: spec, limits: pipeline.mediaLimits) { fraction in Task { await job.progress(0.2 + fraction * 0.5) } }
            var listed: [JSONValue] = []
            for image in images {
                let name = image.path.split(separator: "/").last.map(String.init) ?? "keyframe.jpg"
                let location = prefix.appending("keyframes/" + name)
                try await ledger.upload(image.path, to: location)
                var data = image.json(url: location).objectValue ?? [:]
                data["asset_id"] = .string("\(io.fileID):keyframe:\(image.index)")
                data["index"] = .number(Double(image.index))
                data["file_id"] = .string(io.fileID)
                try await job.announce("KeyframeReady", data: .object(data))
                listed.append(.object(data))
            }
            return .object(["file_id": .string(io.fileID), "count": .number(Double(listed.count)), "keyframes": .array(listed)])
        }
    }
}
