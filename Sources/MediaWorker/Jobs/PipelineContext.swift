import Storage

/// What the media job handlers share: storage, the workspace and the input limits.
public struct PipelineContext: Sendable {
    public let storage: any Storage
    public let workspace: JobWorkspace
    /// Inputs larger than this are refused on HEAD, before any download.
    public var maxInputBytes: Int64 = 20 << 30
    public var mediaLimits = MediaLimits()
    /// Free space a download must leave: the input is needed again as outputs (~2×).
    public var diskFactor: Int64 = 3
    /// Uploads in flight at once (`MW_UPLOAD_CONCURRENCY`).
    public var uploadConcurrency = 8
    /// Inputs longer than this are split across the pool (`MW_SPLIT_MIN_S`); nil: never split.
    public var splitMinimumSeconds: Double? = 120
    /// The headers outputs are written with (`MW_CACHE_CONTROL_*`, `MW_CONTENT_TYPES`).
    public var objectHeaders = ObjectHeaders()
    /// Where encrypted packages' keys are asked for and kept (`MW_HLS_KEY_URL`, `MW_HLS_KEY_STORE`).
    public var hlsKeys = HLSKeySettings()
    /// The engine of automatic captions (`MW_ASR_*`).
    public var speechRecognition = SpeechRecognitionSettings()
    /// Inputs kept between the parts of split jobs this worker runs.
    public var inputCache: InputCache?

    public init(storage: any Storage, workspace: JobWorkspace) {
        self.storage = storage
        self.workspace = workspace
    }

    /// What the configuration says, for the daemon and `media-worker process` alike.
    public init(configuration: WorkerConfiguration, storage: any Storage, workspace: JobWorkspace) {
        self.init(storage: storage, workspace: workspace)
        maxInputBytes = configuration.maxInputBytes
        uploadConcurrency = configuration.uploadConcurrency
        splitMinimumSeconds = configuration.splitMinimumSeconds
        objectHeaders = configuration.objectHeaders
        hlsKeys = configuration.hlsKeys
        speechRecognition = configuration.speechRecognition
    }
}
