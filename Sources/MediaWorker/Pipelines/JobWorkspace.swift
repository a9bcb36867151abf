import Foundation

/// Where a worker process keeps its jobs' temporary files: `<root>/mw-<worker id>/`, held by an
/// flock for the process's life. At start, folders of workers that are gone (no lock held:
/// crashed or killed) are removed; each job works in a folder of its own, removed afterwards.
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
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw StorageError(code: .io, message: "cannot lock \(directory): another worker with this id runs here")
        }
        lockDescriptor = descriptor
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

    /// Folders `mw-*` whose lock nobody holds belong to workers that are gone.
    static func removeAbandoned(in root: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for name in names where name.hasPrefix("mw-") {
            let folder = root + "/" + name
            let descriptor = open(folder + "/.lock", O_RDWR | O_CLOEXEC)
            if descriptor < 0 {
                try? FileManager.default.removeItem(atPath: folder)
                continue
            }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { try? FileManager.default.removeItem(atPath: folder) }
            close(descriptor)
        }
    }
}
