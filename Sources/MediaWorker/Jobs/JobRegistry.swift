import JobContract

/// The job types this build runs, by the `type` their jobs carry, each with its handler (as
/// swift-jobs keeps a registry of job types). The daemon and `media-worker process` both read this
/// one table, so the command line can never run a job differently from the worker. Adding a job
/// type: a folder under `Jobs/` with its handler, its options in JobContract, a line here.
public struct JobRegistry: Sendable {
    public let handlers: [String: any JobHandler]

    public init(handlers: [String: any JobHandler]) {
        self.handlers = handlers
    }

    /// Every job type of this build, on one pipeline.
    public init(pipeline: PipelineContext) {
        self.init(handlers: [
            JobType.noop.rawValue: NoopJobHandler(),
            JobType.probe.rawValue: ProbeJobHandler(pipeline: pipeline),
            JobType.thumbnails.rawValue: ThumbnailsJobHandler(pipeline: pipeline),
            JobType.keyframes.rawValue: KeyframesJobHandler(pipeline: pipeline),
            JobType.transcode.rawValue: TranscodeJobHandler(pipeline: pipeline),
            JobType.compose.rawValue: ComposeJobHandler(pipeline: pipeline),
            // The parts of split transcodes (made by workers, never by producers).
            PartTask.videoType: TranscodePartJobHandler(pipeline: pipeline),
            PartTask.audioType: TranscodePartJobHandler(pipeline: pipeline),
        ])
    }

    public func handler(for type: String) -> (any JobHandler)? { handlers[type] }

    /// The types a producer may submit (split parts are the worker's own).
    public var publicTypes: [String] {
        handlers.keys.filter { $0 != PartTask.videoType && $0 != PartTask.audioType }.sorted()
    }
}
