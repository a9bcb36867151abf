import Foundation

public enum JobPriority: String, Sendable, Codable, CaseIterable {
    case high, normal, low
}

/// Every job is in exactly one of these states in Redis.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// In a wait list, ready to run.
    case waiting
    /// Not due yet (`run_at` / `delay_ms`).
    case delayed
    /// Running under a worker's lease.
    case active
    /// The last attempt failed; a retry is scheduled.
    case failed
    case completed
    /// Failed for good: permanent error, attempts exhausted, poison pill or invalid payload.
    case dead
    case canceled

    public var isTerminal: Bool { self == .completed || self == .dead || self == .canceled }
}

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

/// One delivery of a job to a worker. The token fences every later call for it.
public struct Delivery: Sendable, Equatable {
    public var queue: String
    public var id: String
    public var token: String
    public var attempt: Int
    public var maxAttempts: Int
    public var type: String
    public var payload: String
    public var metadataJSON: String
    public var timeoutSeconds: Int
    public var fileID: String?
    public var movieID: String?
    public var metaMovieID: String?
    public var createdAtMilliseconds: Int64

    /// A delivery made outside Redis (`media-worker process`: one job run locally).
    public init(queue: String, id: String, token: String, attempt: Int, maxAttempts: Int, type: String, payload: String,
                metadataJSON: String, timeoutSeconds: Int, fileID: String? = nil, movieID: String? = nil, metaMovieID: String? = nil,
                createdAtMilliseconds: Int64 = 0) {
        self.queue = queue
        self.id = id
        self.token = token
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.type = type
        self.payload = payload
        self.metadataJSON = metadataJSON
        self.timeoutSeconds = timeoutSeconds
        self.fileID = fileID
        self.movieID = movieID
        self.metaMovieID = metaMovieID
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}

/// The result of one fetch call.
public struct FetchResult: Sendable {
    public var deliveries: [Delivery]
    /// More jobs are waiting than were taken.
    public var moreWaiting: Bool
    /// When the next delayed job is due or the next lease expires, if any.
    public var nextWake: Duration?
}

public enum LeaseStatus: Int, Sendable {
    /// The token no longer holds the job: stop; any result would be refused.
    case lost = 0
    case held = 1
    /// Held, and cancellation was requested: stop and acknowledge.
    case cancelRequested = 2
}

public enum FailOutcome: Sendable, Equatable {
    case retryScheduled(atMilliseconds: Int64)
    case dead
    /// Its cancellation had been requested: it ended canceled instead of being retried.
    case canceled
    /// The token no longer holds the job: nothing changed.
    case stale
}

public enum CancelOutcome: String, Sendable, Equatable {
    case canceled
    case cancelRequested = "cancel_requested"
    case notFound = "not_found"
    case alreadyCompleted = "already_completed"
    case alreadyDead = "already_dead"
    case alreadyCanceled = "already_canceled"
}

/// A job's stored record, as `status` shows it.
public struct JobRecord: Sendable, Equatable {
    public var fields: [String: String]
    public var id: String { fields["id"] ?? "" }
    public var state: JobState? { fields["state"].flatMap(JobState.init(rawValue:)) }
    public var type: String { fields["type"] ?? "" }
    public var attempts: Int { Int(fields["attempts"] ?? "") ?? 0 }
    public var errorCode: String? { fields["error_code"] }
    public var errorMessage: String? { fields["error_message"] }
}

/// How many jobs are in each state of a queue.
public struct QueueCounts: Sendable, Equatable {
    public var inbox: Int
    public var waiting: Int
    public var scheduled: Int
    public var active: Int
    public var completed: Int
    public var dead: Int
    public var canceled: Int

    public init(inbox: Int, waiting: Int, scheduled: Int, active: Int, completed: Int, dead: Int, canceled: Int) {
        self.inbox = inbox
        self.waiting = waiting
        self.scheduled = scheduled
        self.active = active
        self.completed = completed
        self.dead = dead
        self.canceled = canceled
    }
}
