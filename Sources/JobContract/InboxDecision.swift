/// A validated job, ready to be created from an inbox item.
public struct NewJob: Sendable, Equatable {
    public var id: String
    public var type: String
    public var priority: JobPriority
    public var maxAttempts: Int
    /// Milliseconds since 1970; nil or past means now.
    public var runAtMilliseconds: Int64?
    /// A delay from the moment Redis creates the job (its clock, not the caller's).
    public var delayMilliseconds: Int64?
    public var timeoutSeconds: Int
    /// The normalized job JSON the handler will receive.
    public var payload: String
    /// The job's free-form metadata as a JSON object, copied into every event.
    public var metadataJSON: String
    public var fileID: String?
    public var movieID: String?

    public init(
        id: String, type: String, priority: JobPriority = .normal, maxAttempts: Int = 5, runAtMilliseconds: Int64? = nil,
        delayMilliseconds: Int64? = nil, timeoutSeconds: Int = 3600, payload: String, metadataJSON: String = "{}", fileID: String? = nil, movieID: String? = nil
    ) {
        self.id = id
        self.type = type
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAtMilliseconds = runAtMilliseconds
        self.delayMilliseconds = delayMilliseconds
        self.timeoutSeconds = timeoutSeconds
        self.payload = payload
        self.metadataJSON = metadataJSON
        self.fileID = fileID
        self.movieID = movieID
    }
}

/// An inbox item that cannot become a job; it becomes a dead job with this reason.
public struct RejectedItem: Sendable, Equatable {
    public var id: String
    public var type: String?
    public var code: String
    public var message: String
    public var metadataJSON: String

    public init(id: String, type: String?, code: String, message: String, metadataJSON: String = "{}") {
        self.id = id
        self.type = type
        self.code = code
        self.message = message
        self.metadataJSON = metadataJSON
    }
}

/// What a decoder makes of one inbox item.
public enum InboxDecision: Sendable, Equatable {
    case jobs([NewJob])
    case rejected(RejectedItem)
    /// A wake-up marker or an event the queue does not act on (e.g. an object removal).
    case ignored
}
