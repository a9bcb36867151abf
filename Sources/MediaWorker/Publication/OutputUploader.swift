import Foundation
import Metrics
import Storage
import Synchronization

/// Uploads a folder of outputs to a version's prefix, several files at once
/// (`MW_UPLOAD_CONCURRENCY`), playlists after everything else: a reader who finds a playlist
/// finds its segments. Each file gets the headers of its kind (`ObjectHeaders`).
struct OutputUploader: Sendable {
    let storage: any Storage
    let concurrency: Int
    var headers = ObjectHeaders()

    /// Every file under `directory` to `prefix` + its relative path. `progress` gets the fraction of bytes done.
    /// Returns how many objects and bytes went up.
    @discardableResult
    func upload(_ directory: String, to prefix: StorageLocation, progress: (@Sendable (Double) -> Void)? = nil) async throws(JobFailure)
        -> (objects: Int, bytes: Int64) {
        var files: [(relative: String, size: Int64)] = []
        let walker = FileManager.default.enumerator(atPath: directory)
        while let relative = walker?.nextObject() as? String {
            var info = stat()
            guard lstat(directory + "/" + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            files.append((relative, Int64(info.st_size)))
        }
        let playlists = files.filter { $0.relative.hasSuffix(".m3u8") }.sorted { $0.relative < $1.relative }
        // Large files first: the last upload to start is then a small one, and the wave ends together.
        let media = files.filter { !$0.relative.hasSuffix(".m3u8") }.sorted { ($0.size, $1.relative) > ($1.size, $0.relative) }
        let total = max(1, files.reduce(0) { $0 + $1.size })
        let done = Progress(total: total, report: progress)
        try await uploadAll(media, from: directory, to: prefix, progress: done)
        try await uploadAll(playlists, from: directory, to: prefix, progress: done)
        return (files.count, files.reduce(0) { $0 + $1.size })
    }

    private func uploadAll(_ files: [(relative: String, size: Int64)], from directory: String, to prefix: StorageLocation,
                           progress: Progress) async throws(JobFailure) {
        guard !files.isEmpty else { return }
        let storage = self.storage
        let headers = self.headers
        let failure: JobFailure? = await withTaskGroup(of: JobFailure?.self) { group in
            var next = 0
            func start() {
                let file = files[next]
                next += 1
                group.addTask {
                    do throws(StorageError) {
                        try await storage.upload(file: directory + "/" + file.relative, to: prefix.appending(file.relative),
                                                 contentType: headers.contentType(of: file.relative), cacheControl: headers.cacheControl(of: file.relative),
                                                 metadata: [:])
                    } catch {
                        return error.code == .canceled ? JobFailure(code: "JOB_CANCELED", message: error.message, retryable: true) : JobFailure(error)
                    }
                    Counter(label: "mw_storage_bytes_total", dimensions: [("direction", "out")]).increment(by: Int(file.size))
                    progress.add(file.size)
                    return nil
                }
            }
            for _ in 0..<min(max(1, concurrency), files.count) { start() }
            while let outcome = await group.next() {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
                if next < files.count && !Task.isCancelled { start() }
            }
            return Task.isCancelled ? JobFailure(code: "JOB_CANCELED", message: "the upload was canceled", retryable: true) : nil
        }
        if let failure { throw failure }
    }

    /// Bytes uploaded so far, across the concurrent uploads.
    final class Progress: Sendable {
        private let done = Mutex<Int64>(0)
        let total: Int64
        let report: (@Sendable (Double) -> Void)?

        init(total: Int64, report: (@Sendable (Double) -> Void)?) {
            self.total = total
            self.report = report
        }

        func add(_ bytes: Int64) {
            let fraction = done.withLock { done -> Double in
                done += bytes
                return Double(done) / Double(total)
            }
            report?(fraction)
        }
    }
}
