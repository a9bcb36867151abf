import Foundation
import JobContract
import RedisClient

/// Every job is in exactly one of these states in Redis.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// In a wait list, ready to run.
    case waiting
    /// Not due yet (`run_at` / `delay_ms`).
    case delayed
    /// Running under a worker's lease.
    case active
    /// A split job waiting for its parts, holding no worker.
    case waitingChildren = "waiting_children"
    /// The last attempt failed; a retry is scheduled.
    case failed
    case completed
    /// Failed for good: permanent error, attempts exhausted, poison pill or invalid payload.
    case dead
    case canceled

    public var isTerminal: Bool { self == .completed || self == .dead || self == .canceled }
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
    /// A split job's stage when it comes back after its parts (`stitch`); nil for a first run.
    public var stage: String?

    /// A delivery made outside Redis (`media-worker process`: one job run locally).
    public init(queue: String, id: String, token: String, attempt: Int, maxAttempts: Int, type: String, payload: String,
                metadataJSON: String, timeoutSeconds: Int, fileID: String? = nil, movieID: String? = nil, metaMovieID: String? = nil,
                createdAtMilliseconds: Int64 = 0, stage: String? = nil) {
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
        self.stage = stage
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

    /// Fields a new job's hash leaves out while they hold their first value (every field is a
    /// step of a linear search in Redis's small-hash encoding, paid at each transition), and the
    /// field whose value stands in for an absent one (`run_at`: when it was created; `allowance`:
    /// its first `max_attempts`).
    static let defaults: [String: String] = ["stalls": "0", "history": "[]", "cancel": "0", "worker": "", "token": "0"]
    static let standIns: [String: String] = ["run_at": "created_at", "allowance": "max_attempts"]

    public init(fields: [String: String]) {
        self.fields = fields
    }

    /// The record as stored, with what the hash leaves out filled in: the same fields whatever
    /// wrote it. `lease_until` is the job's score in the active set while it runs (the hash
    /// keeps no copy: a heartbeat moves the score alone), 0 otherwise.
    init(stored: [String: String], id: String, queue: String, leaseUntil: String?) {
        var fields = stored
        fields["id"] = fields["id"] ?? id
        fields["queue"] = fields["queue"] ?? queue
        fields["lease_until"] = fields["state"] == "active" ? leaseUntil ?? "0" : "0"
        for (name, value) in Self.defaults where fields[name] == nil { fields[name] = value }
        for (name, from) in Self.standIns where fields[name] == nil { fields[name] = fields[from] }
        self.fields = fields
    }
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

/// An attempt's output version as the queue records it (see `PublicationScripts`).
public struct OutputVersionRecord: Sendable, Equatable {
    /// Unique name, also the last folder of its URL.
    public var id: String
    /// Where its objects are written (a storage URL ending in `/`).
    public var url: String
    /// What it may replace when published: one job type's outputs for one file.
    public var slot: String
    /// The stable master playlist that points into the version once it is published.
    public var stableMaster: String?

    public init(id: String, url: String, slot: String, stableMaster: String?) {
        self.id = id
        self.url = url
        self.slot = slot
        self.stableMaster = stableMaster
    }
}

/// What completion publishes: the attempt's version, the grace period of the version it
/// replaces, and the per-asset events appended with the terminal one.
public struct Publication: Sendable, Equatable {
    public struct AssetEvent: Sendable, Equatable {
        public var type: String
        public var dataJSON: String
        public init(type: String, dataJSON: String) {
            self.type = type
            self.dataJSON = dataJSON
        }
    }

    public var version: String?
    public var grace: Duration
    public var assets: [AssetEvent]

    public init(version: String?, grace: Duration, assets: [AssetEvent] = []) {
        self.version = version
        self.grace = grace
        self.assets = assets
    }
}

public enum PublishPermission: String, Sendable {
    case ok
    /// Another delivery is publishing the same slot: ask again shortly.
    case busy
    /// The job was asked to cancel: acknowledge it instead of publishing.
    case cancel
    case stale
    case noVersion = "no_version"
}

/// A version to delete, with what the janitor needs to repair a stable name that points into it.
public struct TrashedVersion: Sendable, Equatable {
    public var id: String
    public var url: String
    public var stableMaster: String?
    public var currentVersion: String?
    public var currentURL: String?
    /// Its slot ("" for a part's folder): a repair of the stable names takes the slot's right.
    public var slot: String

    public init(id: String, url: String, stableMaster: String?, currentVersion: String?, currentURL: String?, slot: String = "") {
        self.id = id
        self.url = url
        self.stableMaster = stableMaster
        self.currentVersion = currentVersion
        self.currentURL = currentURL
        self.slot = slot
    }
}

/// A slot's publication right, held for a repair of its stable names.
public struct SlotLock: Sendable, Equatable {
    public var slot: String
    public var holder: String
    /// The slot's published version when the right was taken (nil: nothing published).
    public var currentVersion: String?
    public var currentURL: String?
}

/// One part of a split job, as the job creates it.
public struct JobPart: Sendable, Equatable {
    public var id: String
    /// `transcode_chunk` or `transcode_audio`.
    public var type: String
    /// Its share of the job's work: parts go out longest first.
    public var work: Duration
    public var payload: String
    /// The chunk index, or "audio".
    public var asset: String

    public init(id: String, type: String, work: Duration, payload: String, asset: String) {
        self.id = id
        self.type = type
        self.work = work
        self.payload = payload
        self.asset = asset
    }

    /// What separates a part's id from its parent's: a character no producer's id may hold
    /// (job ids are `A-Z a-z 0-9 . _ : -`), so no job a producer pushes can take a part's key.
    public static let separator: Character = "~"

    /// `<parent>~a<attempt>~<asset>`: a job retried from dead splits anew, under new ids.
    public static func id(parent: String, attempt: Int, asset: String) -> String {
        "\(parent)\(separator)a\(attempt)\(separator)\(asset)"
    }
}

/// A part as Redis has it.
public struct PartRecord: Sendable, Equatable {
    public var id: String
    public var state: JobState?
    public var worker: String
    public var attempts: Int
    public var asset: String
    public var resultJSON: String
}

/// What `fanOut` made of a split.
public enum FanOutOutcome: Sendable, Equatable {
    case accepted
    /// The delivery no longer holds the job.
    case stale
    /// A part's id is taken by another job already: nothing was changed.
    case partExists(String)
}
