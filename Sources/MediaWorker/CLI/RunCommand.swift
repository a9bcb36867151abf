import ArgumentParser
import CFFmpegShim
import Foundation
import Logging

/// `media-worker run`: the daemon. Settings come from the environment (see docs/configuration.md).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the worker daemon until SIGTERM or SIGINT.")

    @Option(help: "Comma-separated queues to take jobs from, first has precedence (overrides MW_QUEUES).")
    var queues: String?

    @Option(help: "Jobs run at once by this process (overrides MW_CONCURRENCY).")
    var concurrency: Int?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let queues { overrides["MW_QUEUES"] = queues }
        if let concurrency { overrides["MW_CONCURRENCY"] = String(concurrency) }
        let configuration = try WorkerConfiguration.forCommand(overriding: overrides)
        let level = configuration.logLevel
        // trace_id and span_id of the attempt a line is written in (none outside a traced attempt).
        LoggingSystem.bootstrap({ label, provider in
            var handler = JSONLogHandler(label: label, level: level)
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: Logger.traceMetadataProvider)
        var logger = Logger(label: "media-worker")
        logger[metadataKey: "worker_id"] = "\(configuration.workerID)"
        // libav* would print free-form text to stderr, breaking the JSON log lines.
        mw_log_set_level(-8)
        let metrics = WorkerMetrics()
        metrics.bootstrap()
        try await WorkerDaemon(configuration: configuration, logger: logger, metrics: metrics).run()
    }
}

func printError(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(0x0A)
    bytes.withUnsafeBytes { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}
