import Foundation
import QueueClient
import RedisClient
import Storage

/// The stable names of published outputs (the master playlist at `<file>/hls/master.m3u8`):
/// written at publication, after every versioned object, and put back when a publication did
/// not go through or its version is deleted. They are the only objects ever overwritten.
struct StableNames: Sendable {
    let storage: any Storage
    /// Where small files are staged on their way to and from storage.
    let scratchDirectory: String
    var headers = ObjectHeaders()

    func write(_ objects: [StableObject]) async throws(StorageError) {
        for object in objects { try await put(object.contents, at: object.location, contentType: object.contentType) }
    }

    /// The text of a stable name; nil when there is none.
    func read(_ location: StorageLocation) async throws(StorageError) -> String? {
        let path = try scratchPath()
        defer { unlink(path) }
        do {
            _ = try await storage.download(location, to: path, maxBytes: 1 << 20)
        } catch where error.code == .notFound {
            return nil
        }
        return try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// Runs `repair` holding the slot's publication right (see `JobQueue.lockSlot`), given the
    /// slot's current version as read under the right, then gives the right back. Repairs and
    /// publications of one slot so happen one at a time, and a repair never writes from an older
    /// snapshot over a newer publication. Throws while another holds the right (try again later).
    /// Returns whether `repair` changed anything and the published version it pointed at.
    static func underSlotLock(
        queue: JobQueue, slot: String, holder: String, lease: Duration,
        _ repair: ((id: String, url: StorageLocation)?) async throws(StorageError) -> Bool
    ) async throws(StorageError) -> (repaired: Bool, published: String?) {
        let lock: SlotLock?
        do {
            lock = try await withRedisRetry(until: .now + .seconds(30)) { () throws(RedisError) in
                try await queue.lockSlot(slot, holder: holder, lease: lease)
            }
        } catch {
            throw StorageError(code: .unavailable, message: "cannot take the publication right of slot \(slot): \(error)")
        }
        guard let lock else {
            throw StorageError(code: .unavailable, message: "slot \(slot) is being published or repaired by another; repaired later")
        }
        var current: (id: String, url: StorageLocation)?
        if let id = lock.currentVersion, let url = lock.currentURL { current = (id, try StorageLocation(parsing: url)) }
        let repaired: Bool
        do {
            repaired = try await repair(current)
        } catch {
            _ = try? await queue.unlockSlot(lock)
            throw error
        }
        _ = try? await withRedisRetry(until: .now + .seconds(30)) { () throws(RedisError) in try await queue.unlockSlot(lock) }
        return (repaired, current?.id)
    }

    /// Points the stable master `location` at the published version `current` (its own master,
    /// re-pointed), or removes it when nothing is published.
    func restoreMaster(_ location: StorageLocation, current: (id: String, url: StorageLocation)?) async throws(StorageError) {
        guard let current else {
            try await storage.delete([location])
            return
        }
        guard let own = try await read(current.url.appending(OutputVersion.stableMasterPath)) else {
            throw StorageError(code: .notFound, message: "the published version \(current.id) has no master playlist")
        }
        try await put(MasterPlaylist.pointing(own, into: OutputVersion.relativePrefix(version: current.id)), at: location,
                      contentType: headers.contentType(of: "master.m3u8"))
    }

    private func put(_ contents: String, at location: StorageLocation, contentType: String) async throws(StorageError) {
        let path = try scratchPath()
        defer { unlink(path) }
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8)) else {
            throw StorageError(code: .io, message: "cannot stage \(location.name) in \(scratchDirectory)")
        }
        try await storage.upload(file: path, to: location, contentType: contentType, cacheControl: headers.stableCacheControl, metadata: [:])
    }

    private func scratchPath() throws(StorageError) -> String {
        do {
            try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .io, message: "cannot create \(scratchDirectory)")
        }
        return scratchDirectory + "/stable-" + UUID().uuidString.prefix(12)
    }
}
