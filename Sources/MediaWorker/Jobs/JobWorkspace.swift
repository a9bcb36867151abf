import Foundation
import Storage

/// Where a worker process keeps its jobs' temporary files: `<root>/mw-<worker id>/`, held by an
/// flock for the process's life. At start, folders of workers that are gone (no lock held:
/// crashed or killed) are removed; each job works in a folder of its own, removed afterwards.
///
/// A folder only ever appears under its `mw-` name already locked: it is made under a hidden
/// temporary name, locked, then renamed into place. So a sibling worker's sweep at start can
/// never take a live folder for an abandoned one between its creation and its lock.
public final class JobWorkspace: Sendable {
    public let root: String
    public let directory: String
    private let lockDescriptor: Int32

    public init(root: String, workerID: String) throws(StorageError) {
        self.root = root
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .io, message: "cannot create the temp root \(root)")
        }
        Self.removeAbandoned(in: root)
        directory = root + "/mw-" + workerID
        lockDescriptor = try Self.claim(directory, in: root)
    }

    /// Makes `directory` ours: a new folder locked before it is visible, or an abandoned one
    /// (its lock free) taken over and emptied. Fails when a live worker holds it.
    static func claim(_ directory: String, in root: String) throws(StorageError) -> Int32 {
        let staging = root + "/.mw-staging-" + UUID().uuidString.prefix(12)
        guard mkdir(staging, 0o700) == 0 else { throw StorageError(code: .io, message: "cannot create \(staging)") }
        let descriptor = open(staging + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            throw StorageError(code: .io, message: "cannot lock \(staging)")
        }
        // A sweep may be removing an abandoned folder of this name right now: a few tries.
        for _ in 0..<20 {
            if rename(staging, directory) == 0 { return descriptor }
            guard errno == EEXIST || errno == ENOTEMPTY else { break }
            let held = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if held >= 0, flock(held, LOCK_EX | LOCK_NB) == 0 {
                // Abandoned by an earlier process with this id: ours now, emptied but for its lock.
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name != ".lock" {
                    try? FileManager.default.removeItem(atPath: directory + "/" + name)
                }
                close(descriptor)
                try? FileManager.default.removeItem(atPath: staging)
                return held
            }
            if held >= 0 { close(held) }
            usleep(25_000)
        }
        close(descriptor)
        try? FileManager.default.removeItem(atPath: staging)
        throw StorageError(code: .io, message: "cannot lock \(directory): another worker with this id runs here")
    }

    deinit { close(lockDescriptor) }

    /// A fresh folder for one attempt of a job; `cleanup` removes it.
    public func jobDirectory(jobID: String, token: String) throws(StorageError) -> String {
        let safe = String(jobID.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(64))
        let path = directory + "/job-" + safe + "-" + String(token.prefix(12))
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .io, message: "cannot create a job folder under \(directory)")
        }
        return path
    }

    public func cleanup(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Bytes free under the root (for the check before a download).
    public var freeBytes: Int64 {
        var info = statvfs()
        guard statvfs(root, &info) == 0 else { return .max }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Folders `mw-*` whose lock nobody holds belong to workers that are gone; staging folders
    /// (`.mw-staging-*`) of a worker that died while starting are removed once a minute old.
    static func removeAbandoned(in root: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for name in names {
            let folder = root + "/" + name
            if name.hasPrefix(".mw-staging-") {
                var info = stat()
                guard stat(folder, &info) == 0, time(nil) - info.st_mtim.tv_sec > 60 else { continue }
            } else if !name.hasPrefix("mw-") {
                continue
            }
            let descriptor = open(folder + "/.lock", O_RDWR | O_CLOEXEC)
            if descriptor < 0 {
                // No lock file: never a live worker's (its folder appears with the lock held).
                if errno == ENOENT { try? FileManager.default.removeItem(atPath: folder) }
                continue
            }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { try? FileManager.default.removeItem(atPath: folder) }
            close(descriptor)
        }
    }
}
