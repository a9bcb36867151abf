import Metrics
import QueueClient
import RedisClient

/// Reads the queues' depth by state when `/metrics` is scraped, not on a timer: an idle worker
/// then sends Redis nothing for it.
public final class QueueDepthSampler: Sendable {
    let queues: [JobQueue]
    let client: RedisClient

    public init(configuration: WorkerConfiguration) {
        let client = RedisClient(url: configuration.redisURL, options: .init(connectTimeout: .seconds(1), commandTimeout: .seconds(1)))
        self.client = client
        queues = configuration.queues.map { JobQueue(name: $0, options: configuration.queueOptions, client: client, actor: configuration.workerID) }
    }

    /// Updates `mw_queue_jobs{queue,state}`; a Redis failure leaves the last values (the scrape still answers).
    public func sample() async {
        for queue in queues {
            guard let counts = try? await queue.counts() else { continue }
            for (state, value) in [("inbox", counts.inbox), ("waiting", counts.waiting), ("scheduled", counts.scheduled),
                                   ("active", counts.active), ("completed", counts.completed), ("dead", counts.dead),
                                   ("canceled", counts.canceled)] {
                Gauge(label: "mw_queue_jobs", dimensions: [("queue", queue.name), ("state", state)]).record(value)
            }
        }
    }

    public func close() async { await client.close() }
}
