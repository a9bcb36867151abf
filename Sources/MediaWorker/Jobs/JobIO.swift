import Foundation
import JobContract
import Metrics
import Storage

/// One attempt's inputs and outputs: its folder, the input object (compose has none: its scenes
/// name their own), where outputs go.
struct JobIO {
    let pipeline: PipelineContext
    let job: JobContext
    let directory: String
    let input: StorageLocation?
    let fileID: String

    init(pipeline: PipelineContext, job: JobContext, needsInput: Bool = true) throws(JobFailure) {
        self.pipeline = pipeline
        self.job = job
        let url = job.envelope["input"]?["url"]?.stringValue
        if needsInput, url == nil { throw JobFailure.invalidJob("input.url is required") }
        do {
            if let url { input = try StorageLocation(parsing: url) } else { input = nil }
            directory = try pipeline.workspace.jobDirectory(jobID: job.id, token: job.delivery.token)
        } catch {
            throw JobFailure(error)
        }
        let named = job.envelope["file_id"]?.stringValue
        let derived = input.map { $0.name.split(separator: ".").first.map(String.init) ?? $0.name } ?? job.id
        let candidate = named ?? derived
        fileID = JobDecoder.isSafeIdentifier(candidate) ? candidate : String(candidate.map { JobDecoder.isSafeIdentifier(String($0)) ? $0 : "_" }.prefix(128))
    }

    /// `<output.url>/<file_id>/`: every output of the job lives under it.
    func filePrefix() throws(JobFailure) -> StorageLocation {
        guard let url = job.envelope["output"]?["url"]?.stringValue else { throw JobFailure.invalidJob("output.url is required") }
        do {
            return try StorageLocation(parsing: url).appending(fileID + "/")
        } catch {
            throw JobFailure(error)
        }
    }

    /// A new version for this attempt's outputs (its URLs are known before anything is made).
    func newVersion(hasStableMaster: Bool = false) throws(JobFailure) -> OutputVersion {
        OutputVersion(filePrefix: try filePrefix(), jobType: job.delivery.type, hasStableMaster: hasStableMaster)
    }

    /// Records the version with the queue, then uploads every file under `directory` into it.
    func upload(_ directory: String, to version: OutputVersion, progress: (@Sendable (Double) -> Void)? = nil) async throws(JobFailure) {
        try await job.recordVersion(version)
        let uploader = OutputUploader(storage: pipeline.storage, concurrency: pipeline.uploadConcurrency, headers: pipeline.objectHeaders)
        do {
            try await job.trace.measure("upload", attributes: [TraceAttributes.storageURL: .string(version.url.description)]) { span in
                let sent = try await uploader.upload(directory, to: version.url, progress: progress)
                span.set(TraceAttributes.objects, sent.objects)
                span.set(TraceAttributes.bytes, Int(sent.bytes))
            }
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw JobFailure(code: "JOB_INTERNAL", message: "\(error)", retryable: true)
        }
    }

    /// The stable master of a version whose package holds `hls/master.m3u8`: its text with
    /// every URI pointed into the version.
    func stableMaster(of version: OutputVersion, packageMaster path: String) throws(JobFailure) -> StableObject? {
        guard let location = version.stableMaster else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw JobFailure(code: "JOB_INTERNAL", message: "the package has no master playlist", retryable: true)
        }
        return StableObject(location: location, contents: MasterPlaylist.pointing(text, into: OutputVersion.relativePrefix(version: version.id)),
                            contentType: pipeline.objectHeaders.contentType(of: "master.m3u8"))
    }

    /// The job's input object, downloaded (see `fetch`).
    func fetchInput() async throws(JobFailure) -> (path: String, info: ObjectInfo) {
        guard let input else { throw JobFailure.invalidJob("input.url is required") }
        return try await fetch(input, as: "input")
    }

    /// The input of a part of a split job: the very object its job read (the same ETag and size,
    /// or `MEDIA_INPUT_CHANGED`), from this worker's cache when an earlier part downloaded it.
    /// Give the returned key back to the cache when done.
    func fetchSharedInput(fingerprint expected: String?) async throws(JobFailure) -> (path: String, info: ObjectInfo, cacheKey: String?) {
        guard let input else { throw JobFailure.invalidJob("input.url is required") }
        let info = try await head(input)
        if let expected, Self.fingerprint(info) != expected {
            throw JobFailure(code: "MEDIA_INPUT_CHANGED", message: "\(input) was replaced while its job was split", retryable: false)
        }
        guard let cache = pipeline.inputCache else { return (try await download(input, info: info, as: "input"), info, nil) }
        let key = InputCache.key(url: input.description, info: info)
        if let cached = await cache.acquire(key) { return (cached, info, key) }
        let path = try await download(input, info: info, as: "input")
        return (await cache.store(key, from: path), info, key)
    }

    /// What identifies an input object's content without reading it.
    static func fingerprint(_ info: ObjectInfo) -> String { "\(info.etag ?? "")#\(info.size)" }

    /// HEAD (size limit, metadata), free-disk check, streamed download to `<job folder>/<name>.<ext>`.
    func fetch(_ location: StorageLocation, as name: String) async throws(JobFailure) -> (path: String, info: ObjectInfo) {
        let info = try await head(location)
        return (try await download(location, info: info, as: name), info)
    }

    func head(_ location: StorageLocation) async throws(JobFailure) -> ObjectInfo {
        let info: ObjectInfo
        do {
            info = try await pipeline.storage.head(location)
        } catch {
            throw JobFailure(error)
        }
        if info.size > pipeline.maxInputBytes {
            throw JobFailure(code: StorageError.Code.tooLarge.rawValue,
                             message: "\(location.name) is \(info.size) bytes, over the limit of \(pipeline.maxInputBytes)", retryable: false)
        }
        let free = pipeline.workspace.freeBytes
        if free < info.size * pipeline.diskFactor {
            throw JobFailure(code: "WORKER_DISK_FULL", message: "\(free) bytes free, \(info.size * pipeline.diskFactor) needed", retryable: true)
        }
        return info
    }

    /// Streams the object HEAD described into `<job folder>/<name>.<ext>`.
    func download(_ location: StorageLocation, info: ObjectInfo, as name: String) async throws(JobFailure) -> String {
        let parts = location.name.split(separator: ".")
        let ext = parts.count > 1 ? String(parts.last!.prefix(8)).filter { $0.isLetter || $0.isNumber } : "bin"
        let path = directory + "/" + name + "." + (ext.isEmpty ? "bin" : ext)
        let storage = pipeline.storage, limit = pipeline.maxInputBytes
        do {
            try await job.trace.measure("download", attributes: [TraceAttributes.storageURL: .string(location.description),
                                                                 TraceAttributes.bytes: .int64(info.size)]) { _ in
                _ = try await storage.download(location, to: path, maxBytes: limit)
            }
        } catch let error as StorageError {
            throw JobFailure(error)
        } catch {
            throw JobFailure(code: "JOB_INTERNAL", message: "\(error)", retryable: true)
        }
        Counter(label: "mw_storage_bytes_total", dimensions: [("direction", "in")]).increment(by: Int(info.size))
        return path
    }

    /// Removes the job folder (gigabytes, for a long transcode) on the blocking I/O pool, also
    /// when the job was cancelled (a task of its own: the pool refuses a cancelled task's work).
    func cleanup() async {
        let workspace = pipeline.workspace
        let directory = directory
        await Task { _ = try? await BlockingIO.run { () throws(StorageError) in workspace.cleanup(directory) } }.value
    }
}

/// Runs `body` turning media, storage and movie-id errors into job failures; the job folder is
/// removed. What a failed attempt uploaded is not deleted here: its version is trash in Redis
/// as soon as the failure is recorded, and a janitor deletes it (durably, even if this worker dies).
func runMediaJob(io: JobIO, _ body: () async throws -> JobResult) async throws -> JobResult {
    let outcome: Result<JobResult, any Error>
    do {
        outcome = .success(try await body())
    } catch {
        outcome = .failure(error)
    }
    await io.cleanup()
    do {
        return try outcome.get()
    } catch {
        switch error {
        case let error as MediaError:
            if error.code == .canceled { throw CancellationError() }
            throw JobFailure(error)
        case let error as StorageError:
            if error.code == .canceled { throw CancellationError() }
            throw JobFailure(error)
        case let error as MovieID.Invalid: throw JobFailure(error)
        default: throw error
        }
    }
}
