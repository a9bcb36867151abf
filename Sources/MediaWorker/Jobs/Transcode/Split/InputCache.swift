import Foundation
import Storage

/// Inputs kept between the parts of split jobs one worker runs: its next chunk of the same input
/// starts without downloading it again. An entry is known by the input's URL and its ETag (or,
/// for local files, size and modification time), so a replaced object is never taken for the old
/// one. At most `capacity` inputs are kept; one in use is never evicted.
public actor InputCache {
    private struct Entry {
        var path: String
        var users: Int
        var lastUsed: ContinuousClock.Instant
    }

    let directory: String
    let capacity: Int
    private var entries: [String: Entry] = [:]

    public init(directory: String, capacity: Int = 2) {
        self.directory = directory
        self.capacity = capacity
    }

    static func key(url: String, info: ObjectInfo) -> String {
        "\(url)#\(info.etag ?? "")#\(info.size)"
    }

    /// The cached copy of `key`, now in use (call `release`), or nil.
    func acquire(_ key: String) -> String? {
        guard var entry = entries[key], FileManager.default.fileExists(atPath: entry.path) else { return nil }
        entry.users += 1
        entry.lastUsed = .now
        entries[key] = entry
        return entry.path
    }

    /// Keeps the file at `path` (moved into the cache) as `key`, in use; returns where it now is.
    func store(_ key: String, from path: String) -> String {
        if let existing = acquire(key) {
            try? FileManager.default.removeItem(atPath: path)
            return existing
        }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = UUID().uuidString.prefix(12) + "-" + (path.split(separator: "/").last.map(String.init) ?? "input")
        let target = directory + "/" + name
        guard rename(path, target) == 0 else { return path }  // another file system: used in place, not kept
        entries[key] = Entry(path: target, users: 1, lastUsed: .now)
        evict()
        return target
    }

    func release(_ key: String) {
        guard var entry = entries[key] else { return }
        entry.users = max(0, entry.users - 1)
        entries[key] = entry
        evict()
    }

    private func evict() {
        while entries.count > capacity,
              let (key, entry) = entries.filter({ $0.value.users == 0 }).min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            try? FileManager.default.removeItem(atPath: entry.path)
            entries[key] = nil
        }
    }

    /// Removes every kept input (the worker is stopping).
    public func clear() {
        try? FileManager.default.removeItem(atPath: directory)
        entries.removeAll()
    }
}
