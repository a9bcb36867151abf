import Foundation
import JobContract
@testable import MediaWorker
import QueueClient
import RedisClient
@testable import Storage
import Synchronization
import TestSupport
import Testing

/// The janitor's sweep against a backend that is down: it tries it once, leaves that backend's
/// other versions for its next sweep, and still deletes what lives elsewhere.
@Suite("Janitor sweeps")
struct JanitorSweepTests {
    /// A storage whose `s3://down` bucket is unreachable; it counts what was asked of each bucket.
    final class TwoBuckets: Storage {
        let calls = Mutex<[String: Int]>([:])
        let objects = Mutex<Set<String>>([])

        func bucket(_ location: StorageLocation) -> String {
            if case .s3(let bucket, _) = location { return bucket }
            return "file"
        }

        func count(_ location: StorageLocation) throws(StorageError) {
            let name = bucket(location)
            calls.withLock { $0[name, default: 0] += 1 }
            if name == "down" { throw StorageError(code: .unavailable, message: "connection refused") }
        }

        func head(_ location: StorageLocation) async throws(StorageError) -> ObjectInfo {
            try count(location)
            throw StorageError(code: .notFound, message: "no")
        }
        func download(_ location: StorageLocation, to path: String, maxBytes: Int64?) async throws(StorageError) -> ObjectInfo {
            try count(location)
            throw StorageError(code: .notFound, message: "no")
        }
        func upload(file path: String, to location: StorageLocation, contentType: String?, cacheControl: String?,
                    metadata: [String: String]) async throws(StorageError) {
            try count(location)
            objects.withLock { _ = $0.insert(location.description) }
        }
        func delete(_ locations: [StorageLocation]) async throws(StorageError) {
            for location in locations {
                try count(location)
                objects.withLock { _ = $0.remove(location.description) }
            }
        }
        func list(prefix: StorageLocation) async throws(StorageError) -> [ListedObject] {
            try count(prefix)
            let text = prefix.description
            return objects.withLock { $0.filter { $0.hasPrefix(text) } }.compactMap { key in
                (try? StorageLocation(parsing: key)).map { ListedObject(location: $0, size: 1) }
            }
        }
    }

    @Test("a backend that fails is tried once a sweep; versions elsewhere are still deleted; one version a take")
    func skipsUnreachableBackend() async throws {
        try await RedisServer.with { server in
            let client = RedisClient(url: try RedisURL(parsing: server.url))
            let queue = JobQueue(name: "j", client: client, actor: "test")
            let storage = TwoBuckets()
            storage.objects.withLock { $0.insert("s3://live/f/v/up1/a.m4s") }
            // Four failed attempts' versions: three on the bucket that is down, one on the other.
            for (index, bucket) in ["down", "down", "live", "down"].enumerated() {
                let id = "job\(index)"
                try await client.command(["RPUSH", queue.inboxKey, "{}"])
                let item = try await queue.claim(max: 1, worker: "test")[0]
                _ = try await queue.ingest(.jobs([NewJob(id: id, type: "noop", maxAttempts: 1, payload: "{}")]), item: item, worker: "test")
                let delivery = try #require(try await queue.fetch(max: 1).deliveries.first)
                let version = bucket == "live" ? "up1" : "v\(index)"
                #expect(try await queue.openVersion(id: id, token: delivery.token, version: OutputVersionRecord(
                    id: version, url: "s3://\(bucket)/f/v/\(version)/", slot: "", stableMaster: nil)))
                #expect(try await queue.fail(id: id, token: delivery.token, code: "X", message: "m", retryable: false, retryDelay: .zero) == .dead)
            }
            var settings = OutputSettings(storage: storage, scratchDirectory: NSTemporaryDirectory())
            settings.retryBase = .seconds(60)
            settings.retryCap = .seconds(60)
            let janitor = OutputJanitor(settings: settings, logger: .init(label: "test"))
            let (deleted, _) = await janitor.sweep(queue)
            #expect(deleted == 1)
            #expect(storage.objects.withLock { $0.isEmpty })
            // One failure on the bucket that is down, not one per version.
            #expect(storage.calls.withLock { $0["down"] } == 1, "\(storage.calls.withLock { $0 })")
            // Its three versions wait in the trash with a failure each (their backoff), none lost.
            #expect(try await client.command(["ZCARD", queue.keyBase + "trash"]).integer == 3)
            await client.close()
        }
    }
}
