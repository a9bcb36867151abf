import Foundation

/// Runs a program of an engine the worker does not link (the Whisper engine of automatic
/// captions) on a thread of its own: standard output and error go to files of the job's folder
/// (read back when it exits: a grandchild still holding them open cannot keep the job waiting),
/// stopped on timeout or task cancellation (SIGTERM, then SIGKILL after 5 s).
enum ExternalProgram {
    struct Run: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    final class Handle: @unchecked Sendable {
        let process = Process()
        let lock = NSLock()
        /// Asked to stop (timeout or cancellation), perhaps before the program started.
        var stopped = false
        var timedOut = false
        var signaled = false

        func stop(timeout: Bool = false) {
            lock.lock()
            defer { lock.unlock() }
            stopped = true
            if timeout { timedOut = true }
            guard !signaled, process.isRunning else { return }
            signaled = true
            process.terminate()
            let process = process
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }
    }

    static func run(_ program: String, _ arguments: [String], timeoutSeconds: Double, workDirectory: String) async throws(MediaError) -> Run {
        let handle = Handle()
        let tag = UUID().uuidString.prefix(8)
        let errorPath = workDirectory + "/engine-stderr-\(tag).txt", outputPath = workDirectory + "/engine-stdout-\(tag).json"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: errorPath)
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        let outcome: Result<Run, MediaError>
        do {
            outcome = try await withTaskCancellationHandler {
                try await BlockingWork.run { () -> Result<Run, MediaError> in
                    let process = handle.process
                    process.executableURL = URL(fileURLWithPath: program)
                    process.arguments = arguments
                    process.standardInput = FileHandle.nullDevice
                    guard let errors = FileHandle(forWritingAtPath: errorPath), let output = FileHandle(forWritingAtPath: outputPath) else {
                        return .failure(MediaError(code: .internal, message: "cannot open files for the engine's output"))
                    }
                    process.standardOutput = output
                    process.standardError = errors
                    do {
                        try process.run()
                    } catch {
                        return .failure(MediaError(code: .speechRecognitionFailed, message: "cannot run \(program): \(error.localizedDescription)"))
                    }
                    if handle.lock.withLock({ handle.stopped }) { handle.stop() }  // canceled while it was starting
                    let timer = DispatchWorkItem { handle.stop(timeout: true) }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
                    process.waitUntilExit()
                    timer.cancel()
                    try? errors.close()
                    try? output.close()
                    let data = FileManager.default.contents(atPath: outputPath) ?? Data()
                    let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
                    let (stopped, timedOut) = handle.lock.withLock { (handle.stopped, handle.timedOut) }
                    if timedOut {
                        return .failure(MediaError(code: .timeout, message: "\((program as NSString).lastPathComponent) was stopped after \(Int(timeoutSeconds)) s"))
                    }
                    if stopped { return .failure(MediaError(code: .canceled, message: "canceled")) }
                    return .success(Run(status: process.terminationStatus, stdout: data, stderr: stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
                }
            } onCancel: {
                handle.stop()
            }
        } catch {
            throw MediaError(code: .canceled, message: "not run: \(error)")
        }
        return try outcome.get()
    }
}
