import Foundation

/// Runs a program of an engine the worker does not link (the Whisper engine of automatic
/// captions) on a thread of its own: standard output collected, standard error kept in a file of
/// the job's folder (read back for the failure message), stopped on timeout or task cancellation
/// (SIGTERM, then SIGKILL after 5 s).
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
        var signaled = false

        func stop() {
            lock.lock()
            defer { lock.unlock() }
            stopped = true
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
        let errorPath = workDirectory + "/engine-stderr-\(UUID().uuidString.prefix(8)).txt"
        FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let outcome: Result<Run, MediaError>
        do {
            outcome = try await withTaskCancellationHandler {
                try await BlockingWork.run { () -> Result<Run, MediaError> in
                    let process = handle.process
                    process.executableURL = URL(fileURLWithPath: program)
                    process.arguments = arguments
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardInput = FileHandle.nullDevice
                    guard let errors = FileHandle(forWritingAtPath: errorPath) else {
                        return .failure(MediaError(code: .internal, message: "cannot open a file for the engine's messages"))
                    }
                    process.standardError = errors
                    do {
                        try process.run()
                    } catch {
                        return .failure(MediaError(code: .speechRecognitionFailed, message: "cannot run \(program): \(error.localizedDescription)"))
                    }
                    if handle.lock.withLock({ handle.stopped }) { handle.stop() }  // canceled while it was starting
                    let timer = DispatchWorkItem { handle.stop() }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    timer.cancel()
                    try? errors.close()
                    let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
                    if handle.lock.withLock({ handle.stopped }) {
                        return .failure(MediaError(code: .timeout, message: "\((program as NSString).lastPathComponent) was stopped after \(Int(timeoutSeconds)) s (or the job was canceled)"))
                    }
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
