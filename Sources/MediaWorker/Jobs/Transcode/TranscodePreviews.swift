import Foundation
import JobContract
import Storage

/// A transcode's previews (`options.preview`): the animated `preview.webp` (or `preview.gif`) and the audio's
/// `waveform.json`, written in `output` and described for the event's `outputs` with their URLs
/// under `prefix`. Made by the one-pass job, or by a split job's audio part (which reads the whole
/// input for the stills anyway).
enum TranscodePreviews {
    /// Both previews the options ask for, by their names in `outputs`.
    static func make(input path: String, options: PreviewOptions, hasVideo: Bool, hasAudio: Bool, durationSeconds: Double,
                     output: String, prefix: StorageLocation, limits: MediaLimits) async throws -> [String: JSONValue] {
        var made: [String: JSONValue] = [:]
        if let format = options.format, ["webp", "gif"].contains(format), hasVideo {
            made["preview"] = try await animated(input: path, options: options, output: output, prefix: prefix, limits: limits)
        }
        if let wanted = options.waveform, hasAudio {
            made["waveform"] = try await waveform(input: path, options: wanted, durationSeconds: durationSeconds, output: output,
                                                  prefix: prefix, limits: limits)
        }
        return made
    }

    static func animated(input path: String, options: PreviewOptions, output: String, prefix: StorageLocation,
                         limits: MediaLimits) async throws -> JSONValue {
        var settings = AnimatedPreview.Settings()
        settings.excerpts = options.excerpts
        settings.excerptSeconds = options.excerptSeconds
        settings.fps = options.fps
        settings.maxWidth = options.width
        settings.gif = options.format == "gif"
        let name = settings.gif ? "preview.gif" : "preview.webp"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let preview = try await AnimatedPreview.make(input: path, outputPath: output + "/" + name, settings: settings, limits: limits)
        return .object([
            "url": .string(prefix.appending(name).description), "format": .string(settings.gif ? "gif" : "webp"),
            "width": .integer(preview.width), "height": .integer(preview.height), "frames": .integer(preview.frames),
            "excerpts": .integer(preview.excerpts), "duration_s": .double(preview.durationSeconds),
        ])
    }

    static func waveform(input path: String, options: PreviewOptions.Waveform, durationSeconds: Double, output: String,
                     prefix: StorageLocation, limits: MediaLimits) async throws -> JSONValue {
        let waveform = try await AudioWaveform.make(input: path, pixelsPerSecond: options.pixelsPerSecond, bits: options.bits,
                                                    durationSeconds: durationSeconds, limits: limits)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try waveform.json.write(toFile: output + "/waveform.json", atomically: true, encoding: .utf8)
        return .object([
            "url": .string(prefix.appending("waveform.json").description), "pixels_per_second": .double(options.pixelsPerSecond),
            "sample_rate": .integer(waveform.sampleRate), "samples_per_pixel": .integer(waveform.samplesPerPixel),
            "bits": .integer(waveform.bits), "length": .integer(waveform.pixels),
        ])
    }
}
