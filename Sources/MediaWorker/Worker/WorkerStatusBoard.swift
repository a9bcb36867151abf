import Foundation
import Synchronization

/// What `/status` shows: this worker, since when it runs (the real clock), and its current jobs
/// with their last progress.
public final class WorkerStatusBoard: Sendable {
    public struct Job: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var queue: String
        public var attempt: Int
        public var started_at: String
        public var percent: Double?
    }

    public struct Snapshot: Codable, Sendable {
        public var worker_id: String
        public var version: String
        public var started_at: String
        public var uptime_s: Double
        public var jobs: [Job]
    }

    public let workerID: String
    private let startedAt = Date()
    private let jobs = Mutex<[String: Job]>([:])

    public init(workerID: String) { self.workerID = workerID }

    func started(id: String, type: String, queue: String, attempt: Int) {
        let job = Job(id: id, type: type, queue: queue, attempt: attempt, started_at: Self.timestamp(Date()), percent: nil)
        jobs.withLock { $0[id] = job }
    }

    func progressed(id: String, percent: Double) {
        jobs.withLock { $0[id]?.percent = percent }
    }

    func ended(id: String) {
        jobs.withLock { $0[id] = nil }
    }

    public var snapshot: Snapshot {
        let current = jobs.withLock { Array($0.values) }.sorted { $0.started_at < $1.started_at }
        return Snapshot(worker_id: workerID, version: MediaWorkerVersion.current, started_at: Self.timestamp(startedAt),
                        uptime_s: (Date().timeIntervalSince(startedAt) * 1000).rounded() / 1000, jobs: current)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
