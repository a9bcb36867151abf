import QueueClient
import RedisClient
import Storage

/// How a worker takes and runs jobs.
public struct JobWorkerSettings: Sendable {
    public var workerID: String
    /// Queues in precedence order: when slots are scarce the first is served first.
    public var queues: [String]
    public var concurrency: Int
    public var queueOptions = QueueOptions()
    public var retryPolicy = RetryPolicy()
    /// How often running jobs' leases are extended (and cancel requests seen).
    public var heartbeatInterval: Duration = .milliseconds(500)
    /// Longest an idle worker blocks before it looks again (delayed jobs, expired leases).
    public var idleWait: Duration = .seconds(4)
    /// Longest an inbox reader blocks; shutdown interrupts it at once.
    public var inboxWait: Duration = .seconds(5)
    /// Inbox items ingested per batch.
    public var ingestBatch = 100
    /// How often the worker registry entry is refreshed and dead workers' claims recovered.
    public var registryInterval: Duration = .seconds(10)
    /// How long running jobs may finish after SIGTERM before they are handed back.
    public var gracePeriod: Duration = .seconds(30)
    /// While open, no new jobs are taken (running ones go on).
    public var storageBreaker: StorageCircuitBreaker?
    /// Where outputs are published and trashed versions deleted; nil: jobs write no outputs (tests of the queue alone).
    public var outputs: OutputSettings?
    /// Spans per attempt (`OTEL_*`); off: none, events still name the producer's trace.
    public var tracer: JobTracer = .off

    public init(workerID: String, queues: [String], concurrency: Int) {
        self.workerID = workerID
        self.queues = queues
        self.concurrency = concurrency
    }
}

/// Publication and cleanup of output versions.
public struct OutputSettings: Sendable {
    public var storage: any Storage
    /// A folder for small temporary files (stable names being read or written).
    public var scratchDirectory: String
    /// The headers stable names are written with (`MW_CACHE_CONTROL_STABLE`, `MW_CONTENT_TYPES`).
    public var headers = ObjectHeaders()
    /// How long a superseded version stays after a newer publication (viewers in the middle of it).
    public var grace: Duration = .seconds(3600)
    /// The janitor's backoff when deleting fails: from `retryBase`, doubling, up to `retryCap`.
    public var retryBase: Duration = .seconds(1)
    public var retryCap: Duration = .seconds(300)
    /// How long a janitor holds a trashed version while it deletes it.
    public var cleanupLease: Duration = .seconds(120)
    /// How often an idle janitor looks for due trash (a failure here wakes it at once).
    public var idleInterval: Duration = .seconds(10)

    public init(storage: any Storage, scratchDirectory: String) {
        self.storage = storage
        self.scratchDirectory = scratchDirectory
    }
}
