import ArgumentParser
import CFFmpegShim
import Foundation
import JobContract
import Logging
import QueueClient
import RedisClient
import Storage

/// `media-worker process job.json`: one job run here, without Redis, with the daemon's storage
/// and handlers. Events are JSON lines on stdout; on a terminal, a progress bar on stderr instead.
struct ProcessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process", abstract: "Run one job locally (no Redis): the quickest way to see what the worker does.")

    @Argument(help: "The job's JSON file, as it would be pushed onto the inbox ('-' for stdin).")
    var file: String

    func run() async throws {
        let bytes: [UInt8]
        if file == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            bytes = Array(data)
        }
        let configuration = try WorkerConfiguration.forCommand()
        mw_log_set_level(-8)
        let jobs: [NewJob]
        switch JobDecoder(defaultOutputURL: configuration.defaultOutputURL).decide(bytes) {
        case .jobs(let decoded): jobs = decoded
        case .rejected(let item):
            printError("error \(item.code): \(item.message)")
            throw ExitCode(1)
        case .ignored:
            printError("nothing to do: the document is no job")
            return
        }
        let storage: StorageRouter
        let workspace: JobWorkspace
        do {
            storage = try StorageRouter(configuration: configuration)
            workspace = try JobWorkspace(root: configuration.tempRoot, workerID: "process-\(getpid())")
        } catch {
            printError("error \(error.code.rawValue): \(error.message)")
            throw ExitCode(1)
        }
        do {
            try storage.checkKeyStore(configuration)
        } catch {
            printError("configuration error: \(error)")
            throw ExitCode(1)
        }
        let registry = JobRegistry(pipeline: PipelineContext(configuration: configuration, storage: storage, workspace: workspace))
        let terminal = isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let names = StableNames(storage: storage, scratchDirectory: workspace.directory, headers: configuration.objectHeaders)
        let command = self
        let work = Task { () async -> Bool in
            var failed = false
            for job in jobs where !Task.isCancelled {
                failed = await !command.run(job, handler: registry.handler(for: job.type), names: names, terminal: terminal) || failed
            }
            return failed || Task.isCancelled
        }
        // Ctrl-C or SIGTERM cancel the running job as the daemon's shutdown does: its engine programs
        // stopped, its version deleted, its Failed event printed; no job after it starts.
        let interrupts = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { work.cancel() }
            source.resume()
            return source
        }
        let failed = await work.value
        interrupts.forEach { $0.cancel() }
        await storage.shutdown()
        workspace.cleanup(workspace.directory)
        if failed { throw ExitCode(1) }
    }

    /// Runs one job and publishes it here: its stable names, then its events. A failure deletes
    /// the version it wrote (no janitor runs without Redis).
    private func run(_ job: NewJob, handler: (any JobHandler)?, names: StableNames, terminal: Bool) async -> Bool {
        let typeName = job.type.prefix(1).uppercased() + job.type.dropFirst()
        @Sendable func emit(_ type: String, _ data: JSONValue) {
            if terminal && type == "JobProgress" {
                let percent = data["percent"]?.numberValue ?? 0
                let filled = Int(percent / 5)
                FileHandle.standardError.write(Data(("\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 20 - filled)
                    + "] " + String(format: "%5.1f%% ", percent) + job.type + " " + job.id).utf8))
                return
            }
            if terminal && type != "JobProgress" { FileHandle.standardError.write(Data("\n".utf8)) }
            writeLine(JSONValue.object(["type": .string(type), "job_id": .string(job.id), "data": data]).jsonText)
        }
        guard let handler else {
            emit("\(typeName)Failed", .object(["error_code": .string("JOB_TYPE_UNSUPPORTED"), "message": .string("no handler for \(job.type)"),
                                               "retryable": .bool(false)]))
            return false
        }
        let envelope = (try? JSONValue.parse(job.payload)) ?? .object([:])
        let delivery = Delivery(queue: "local", id: job.id, token: UUID().uuidString.lowercased(), attempt: 1, maxAttempts: 1, type: job.type,
                                payload: job.payload, metadataJSON: job.metadataJSON, timeoutSeconds: job.timeoutSeconds,
                                fileID: job.fileID, movieID: job.movieID)
        let reporter = ProgressReporter(delivery: delivery, local: { type, data in emit(type, data) })
        let context = JobContext(delivery: delivery, envelope: envelope, logger: Logger(label: "media-worker.process"), reporter: reporter)
        do {
            let result = try await handler.run(context)
            try await names.write(result.stableObjects)
            for asset in result.assets { emit(asset.type, asset.data) }
            emit("\(typeName)Completed", result.data)
            return true
        } catch {
            // Ctrl-C or SIGTERM at any step (download, encode, upload, stable names): the
            // documented MEDIA_CANCELED, whatever error the interrupted step turned it into.
            let failure: JobFailure
            if Task.isCancelled || error is CancellationError {
                failure = JobFailure(MediaError(code: .canceled, message: "interrupted"))
            } else if let error = error as? JobFailure {
                failure = error
            } else if let error = error as? StorageError {
                failure = JobFailure(error)
            } else {
                failure = JobFailure(code: "JOB_INTERNAL", message: "\(error)", retryable: true)
            }
            emit("\(typeName)Failed", .object(["error_code": .string(failure.code), "message": .string(failure.message),
                                               "retryable": .bool(failure.retryable)]))
        }
        if let version = await reporter.recordedVersion {
            do {
                let objects = try await names.storage.list(prefix: version.url)
                try await names.storage.delete(objects.map(\.location))
            } catch {
                printError("warning: could not delete \(version.url): \(error)")
            }
        }
        return false
    }
}
