import JobContract
import ArgumentParser
import CFFmpegShim
import Foundation

/// Options shared by the still-image commands.
struct StillsOutput: ParsableArguments {
    @Option(name: .long, help: "The folder to write JPEGs into (created if missing).")
    var out: String

    @Option(help: "Fit images into this width (0: source size).")
    var maxWidth: Int32 = 0

    @Option(help: "Fit images into this height (0: source size).")
    var maxHeight: Int32 = 0

    @Option(help: "JPEG quality, 2 (best) to 31.")
    var quality: Int32 = 3

    var spec: ImageSpec { ImageSpec(maxWidth: maxWidth, maxHeight: maxHeight, quality: quality) }

    func prepare() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        mw_log_set_level(-8)
    }
}

/// Prints the images as JSON lines, or the error as one line and exit status 1.
func printStills(_ body: () async throws(MediaError) -> [StillImage]) async throws {
    do {
        for image in try await body() {
            writeLine(JSONValue.object([
                "index": .integer(image.index), "time_s": .double(image.timeSeconds), "width": .integer(image.width),
                "height": .integer(image.height), "path": .string(image.path),
            ]).jsonText)
        }
    } catch {
        printError("error \(error.code.rawValue): \(error.message)")
        throw ExitCode(1)
    }
}

/// `media-worker keyframes FILE --out DIR`.
struct KeyframesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keyframes", abstract: "Write a video's keyframes as JPEGs.")
    @Argument var file: String
    @OptionGroup var output: StillsOutput
    @Option(help: "At most this many (0: all).") var maxCount: Int32 = 0
    @Option(help: "Skip keyframes closer than this many seconds to the last one kept.") var minInterval: Double = 0
    @Option(help: "Keep a keyframe only if it differs this much (0-1) from the last one kept.") var sceneThreshold: Double = 0

    func run() async throws {
        try output.prepare()
        let options = KeyframeOptions(maxCount: maxCount, minIntervalSeconds: minInterval, sceneThreshold: sceneThreshold)
        try await printStills { () throws(MediaError) in
            try await MediaStills.keyframes(input: file, outputDirectory: output.out, options: options, image: output.spec)
        }
    }
}

/// `media-worker thumbnails FILE --out DIR (--count N | --at T,T,...)`.
struct ThumbnailsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "thumbnails", abstract: "Write thumbnails of a video as JPEGs.")
    @Argument var file: String
    @OptionGroup var output: StillsOutput
    @Option(help: "This many, evenly spaced.") var count = 10
    @Option(help: "At these times in seconds, comma-separated (instead of --count).") var at: String?

    func run() async throws {
        try output.prepare()
        let times = try at.map { text in
            try text.split(separator: ",").map { part in
                guard let value = Double(part.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                    throw ValidationError("--at takes seconds such as 1.5,30,62.25")
                }
                return value
            }
        }
        try await printStills { () throws(MediaError) in
            try await MediaStills.thumbnails(input: file, outputDirectory: output.out, times: times, count: count, image: output.spec)
        }
    }
}
