import Foundation
import Logging
import Metrics
import QueueClient
import RedisClient
import Storage

/// Deletes trashed output versions from storage, durably. The queue knows what is trash and
/// when it is due (a failed, cancelled, released or fenced-off attempt's version at once or
/// shortly; a superseded one after the grace period); any worker's janitor takes due versions
/// with a lease, deletes them, and only then has the queue forget them. A failure (storage
/// away, a late writer still writing) puts the version back with a backoff, retried until it
/// succeeds; a janitor that dies leaves its versions to the next one when the lease ends.
///
/// Before and after deleting a version it makes sure the stable master does not point into it
/// (a stale delivery may have written it): it is pointed back at the published version.
final class OutputJanitor: Sendable {
    let settings: OutputSettings
    let logger: Logger
    private let doorbell = Doorbell()

    init(settings: OutputSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Something may have become trash here: look now rather than at the next interval.
    func wake() { doorbell.ring() }

    /// Sweeps the queues until `shouldStop`, waiting for due trash, a wake-up or the idle interval.
    func run(queues: [JobQueue], shouldStop: @Sendable () -> Bool) async {
        while !shouldStop() && !Task.isCancelled {
            var wait = settings.idleInterval
            for queue in queues {
                let (_, nextDue) = await sweep(queue)
                if let nextDue { wait = min(wait, max(nextDue, .milliseconds(50))) }
            }
            await doorbell.wait(upTo: wait)
        }
    }

    /// Deletes every due trashed version of `queue` (in batches); returns how many were deleted
    /// and when the next one left is due.
    @discardableResult
    func sweep(_ queue: JobQueue) async -> (deleted: Int, nextDue: Duration?) {
        var deleted = 0
        var nextDue: Duration?
        // Backends (a bucket, the local roots) that failed in this sweep: their other versions
        // wait for the next sweep instead of each waiting for the same failure.
        var unreachable: Set<String> = []
        // One version a take, so each is held only while it is being deleted (a slow deletion
        // never lets another janitor's lease run out on versions this one has not started).
        for _ in 0..<500 {  // bounded: the rest at the next sweep
            guard let (taken, due) = try? await queue.takeTrash(max: 1, lease: settings.cleanupLease) else { break }
            nextDue = due
            guard let version = taken.first else { break }
            let backend = Self.backend(of: version.url)
            if unreachable.contains(backend) {
                _ = try? await queue.trashFailed(version: version.id, base: settings.retryBase, cap: settings.retryCap,
                                                 error: "skipped: \(backend) failed earlier in this sweep")
                continue
            }
            switch await cleanOne(version, queue: queue) {
            case .deleted: deleted += 1
            case .failed(let code) where code == .unavailable || code == .requestFailed || code == .accessDenied: unreachable.insert(backend)
            case .failed: break
            }
        }
        return (deleted, nextDue)
    }

    /// What a version's objects live on: `s3://<bucket>`, or the local roots.
    static func backend(of url: String) -> String {
        guard url.hasPrefix("s3://") else { return "file" }
        let rest = url.dropFirst("s3://".count)
        return "s3://" + (rest.split(separator: "/").first.map(String.init) ?? "")
    }

    enum CleanOutcome { case deleted, failed(StorageError.Code) }

    private func cleanOne(_ version: TrashedVersion, queue: JobQueue) async -> CleanOutcome {
        var logger = self.logger
        logger[metadataKey: "version"] = "\(version.id)"
        logger[metadataKey: "queue"] = "\(queue.name)"
        do throws(StorageError) {
            let objects = try await clean(version, queue: queue)
            _ = try? await withRedisRetry(until: .now + .seconds(30)) { () throws(RedisError) in try await queue.trashDeleted(version: version.id) }
            Counter(label: "mw_output_versions_deleted_total").increment()
            logger.info("output version deleted", metadata: ["url": "\(version.url)", "objects": "\(objects)"])
            return .deleted
        } catch {
            Counter(label: "mw_output_cleanup_failures_total").increment()
            let failures = try? await queue.trashFailed(version: version.id, base: settings.retryBase, cap: settings.retryCap, error: error.description)
            logger.warning("deleting an output version failed; it is retried later", metadata: [
                "url": "\(version.url)", "error": "\(error)", "failures": "\(failures ?? 0)",
            ])
            return .failed(error.code)
        }
    }

    /// Deletes one version's objects; returns how many there were.
    func clean(_ version: TrashedVersion, queue: JobQueue) async throws(StorageError) -> Int {
        let storage = settings.storage
        let names = StableNames(storage: storage, scratchDirectory: settings.scratchDirectory)
        let url = try StorageLocation(parsing: version.url)
        let master = try version.stableMaster.map { text throws(StorageError) in try StorageLocation(parsing: text) }

        // A repair holds the slot's publication right and reads the current version under it: a
        // publication that completed since the version was taken is never written over.
        func repairMaster() async throws(StorageError) {
            guard let master, let text = try await names.read(master), MasterPlaylist.points(text, into: version.id) else { return }
            let restored = try await StableNames.underSlotLock(queue: queue, slot: version.slot, holder: "janitor:\(version.id)",
                                                              lease: settings.cleanupLease) { current throws(StorageError) in
                // Read again under the right: a publisher may have moved it on meanwhile.
                guard let text = try await names.read(master), MasterPlaylist.points(text, into: version.id) else { return false }
                try await names.restoreMaster(master, current: current)
                return true
            }
            if restored.repaired {
                logger.notice("the stable master pointed into a trashed version: pointed back at the published one", metadata: [
                    "master": "\(master)", "trashed": "\(version.id)", "published": "\(restored.published ?? "none")",
                ])
            }
        }

        try await repairMaster()
        let objects = try await storage.list(prefix: url)
        if !objects.isEmpty { try await storage.delete(objects.map(\.location)) }
        let left = try await storage.list(prefix: url)
        guard left.isEmpty else {
            throw StorageError(code: .io, message: "\(left.count) objects appeared under \(url) while it was deleted (a late writer)")
        }
        try await repairMaster()  // a late writer may have written it meanwhile
        return objects.count
    }
}
