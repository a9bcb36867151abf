import ArgumentParser
import CFFmpegShim
import Foundation

/// `media-worker probe FILE`: container and stream parameters as JSON, or one error line.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Print a local media file's container and streams as JSON.")

    @Argument(help: "A local media file.")
    var file: String

    @Option(help: "Give up after this many seconds.")
    var timeoutS: Double = 30

    func run() async throws {
        mw_log_set_level(-8)  // one clear line of our own instead of libav*'s messages
        var limits = MediaLimits()
        limits.timeout = .milliseconds(Int64(timeoutS * 1000))
        let info: MediaInfo
        do {
            info = try await MediaProbe.probe(path: file, limits: limits)
        } catch {
            printError("error \(error.code.rawValue): \(error.message)")
            throw ExitCode(1)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(info), as: UTF8.self))
    }
}
