import QueueClient

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

    public init(workerID: String, queues: [String], concurrency: Int) {
        self.workerID = workerID
        self.queues = queues
        self.concurrency = concurrency
    }
}
