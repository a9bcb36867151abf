import Foundation
import Metrics

/// What the media job handlers share: storage, the workspace and the input limits.
public struct PipelineContext: Sendable {
    public let storage: any Storage
    public let workspace: JobWorkspace
    /// Inputs larger than this are refused on HEAD, before any download.
    public var maxInputBytes: Int64 = 20 << 30
    public var mediaLimits = MediaLimits()
    /// Free space a download must leave: the input is needed again as outputs (~2×).
    public var diskFactor: Int64 = 3

    public init(storage: any Storage, workspace: JobWorkspace) {
        self.storage = storage
        self.workspace = workspace
    }
}

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
    func outputPrefix() throws(JobFailure) -> StorageLocation {
        guard let url = job.envelope["output"]?["url"]?.stringValue else { throw JobFailure.invalidJob("output.url is required") }
        do {
            return try StorageLocation(parsing: url).appending(fileID + "/")
        } catch {
            throw JobFailure(error)
        }
    }

    /// The job's input object, downloaded (see `fetch`).
    func fetchInput() async throws(JobFailure) -> (path: String, info: ObjectInfo) {
        guard let input else { throw JobFailure.invalidJob("input.url is required") }
        return try await fetch(input, as: "input")
    }

    /// HEAD (size limit, metadata), free-disk check, streamed download to `<job folder>/<name>.<ext>`.
    func fetch(_ location: StorageLocation, as name: String) async throws(JobFailure) -> (path: String, info: ObjectInfo) {
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
        let parts = location.name.split(separator: ".")
        let ext = parts.count > 1 ? String(parts.last!.prefix(8)).filter { $0.isLetter || $0.isNumber } : "bin"
        let path = directory + "/" + name + "." + (ext.isEmpty ? "bin" : ext)
        do {
            _ = try await pipeline.storage.download(location, to: path, maxBytes: pipeline.maxInputBytes)
        } catch {
            throw JobFailure(error)
        }
        Counter(label: "mw_storage_bytes_total", dimensions: [("direction", "in")]).increment(by: Int(info.size))
        return (path, info)
    }

    func cleanup() { pipeline.workspace.cleanup(directory) }
}

/// Uploads a job's outputs and remembers them, so a failed attempt can delete what it wrote
/// (nothing half-made is left behind).
actor UploadLedger {
    let storage: any Storage
    private(set) var uploaded: [StorageLocation] = []

    init(storage: any Storage) { self.storage = storage }

    func upload(_ path: String, to location: StorageLocation) async throws(JobFailure) {
        uploaded.append(location)
        do {
            try await storage.upload(file: path, to: location, contentType: Self.contentType(of: path), metadata: [:])
        } catch {
            throw JobFailure(error)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        Counter(label: "mw_storage_bytes_total", dimensions: [("direction", "out")]).increment(by: size)
    }

    /// Uploads every file under `directory` to `prefix` + its relative path; returns the locations.
    func uploadTree(_ directory: String, to prefix: StorageLocation) async throws(JobFailure) -> [String: StorageLocation] {
        var done: [String: StorageLocation] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(relative)
            }
        }
        // Playlists last: a reader who sees a playlist finds its segments already there.
        files.sort { ($0.hasSuffix(".m3u8") ? 1 : 0, $0) < ($1.hasSuffix(".m3u8") ? 1 : 0, $1) }
        for relative in files {
            let location = prefix.appending(relative)
            try await upload(directory + "/" + relative, to: location)
            done[relative] = location
        }
        return done
    }

    /// Deletes everything this attempt uploaded (best effort: the attempt has failed anyway).
    func compensate() async {
        guard !uploaded.isEmpty else { return }
        try? await storage.delete(uploaded)
        uploaded.removeAll()
    }

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last.map({ $0.lowercased() }) {
        case "m3u8": return "application/vnd.apple.mpegurl"
        case "m4s": return "video/iso.segment"
        case "mp4": return "video/mp4"
        case "ts": return "video/mp2t"
        case "jpg", "jpeg": return "image/jpeg"
        case "vtt": return "text/vtt"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }
}

/// Runs `body` turning media, storage and movie-id errors into job failures; the job folder is
/// removed and, on failure, the uploads compensated.
func runMediaJob(io: JobIO, ledger: UploadLedger, _ body: () async throws -> JSONValue) async throws -> JSONValue {
    defer { io.cleanup() }
    do {
        return try await body()
    } catch {
        // Outside this (possibly cancelled) task, so the deletes are really sent.
        await Task { await ledger.compensate() }.value
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
