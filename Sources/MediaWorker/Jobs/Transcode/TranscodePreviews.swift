import Foundation
import JobContract
import Storage

/// A transcode's previews (`options.preview`): the animated `preview.webp` (or `preview.gif`) and the audio's
/// `waveform.json`, written in `output` and described for the event's `outputs` with their URLs
/// under `prefix`. A one-pass job's animated preview comes from the ladder's own decode
/// (`target`); a split job's audio part makes both reading the input on its own (it reads the whole
/// input for the stills anyway), as a one-pass stream copy does for the animated one.
enum TranscodePreviews {
    /// Both previews the options ask for, by their names in `outputs`.
    static func make(input path: String, options: PreviewOptions, hasVideo: Bool, hasAudio: Bool, durationSeconds: Double,
                     output: String, prefix: StorageLocation, limits: MediaLimits) async throws -> [String: JSONValue] {
        var made: [String: JSONValue] = [:]
        if let target = target(options, hasVideo: hasVideo, output: output) {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            made["preview"] = try await animated(target, input: path, prefix: prefix, limits: limits)
        }
        made["waveform"] = try await waveform(options, hasAudio: hasAudio, input: path, durationSeconds: durationSeconds, output: output,
                                              prefix: prefix, limits: limits)
        return made
    }

    /// What the animated preview is made of (nil: none asked for).
    static func animatedSettings(_ options: PreviewOptions) -> AnimatedPreview.Settings? {
        guard let format = options.format, ["webp", "gif"].contains(format) else { return nil }
        var settings = AnimatedPreview.Settings()
        settings.excerpts = options.excerpts
        settings.excerptSeconds = options.excerptSeconds
        settings.fps = options.fps
        settings.maxWidth = options.width
        settings.gif = format == "gif"
        return settings
    }

    static func fileName(_ settings: AnimatedPreview.Settings) -> String { settings.gif ? "preview.gif" : "preview.webp" }

    /// The one-pass job's ask of the ladder: the animated preview from its own decode, in `output`
    /// (nil: none asked for, or no video).
    static func target(_ options: PreviewOptions, hasVideo: Bool, output: String) -> HLSSettings.PreviewTarget? {
        guard hasVideo, let settings = animatedSettings(options) else { return nil }
        return HLSSettings.PreviewTarget(settings: settings, path: output + "/" + fileName(settings))
    }

    /// The animated preview of a one-pass job (nil target: none asked for): the one the ladder made,
    /// or, when it made none (a stream copy decodes nothing), one read from the input now.
    static func animated(madeBy package: HLSPackage, target: HLSSettings.PreviewTarget?, input path: String, prefix: StorageLocation,
                         limits: MediaLimits) async throws -> JSONValue? {
        guard let target else { return nil }
        if let preview = package.preview { return describe(preview, settings: target.settings, prefix: prefix) }
        return try await animated(target, input: path, prefix: prefix, limits: limits)
    }

    /// The animated preview read from the input on its own, written at the target's path.
    static func animated(_ target: HLSSettings.PreviewTarget, input path: String, prefix: StorageLocation,
                         limits: MediaLimits) async throws -> JSONValue {
        let preview = try await AnimatedPreview.make(input: path, outputPath: target.path, settings: target.settings, limits: limits)
        return describe(preview, settings: target.settings, prefix: prefix)
    }

    /// The preview as `outputs.preview` names it.
    static func describe(_ preview: AnimatedPreview, settings: AnimatedPreview.Settings, prefix: StorageLocation) -> JSONValue {
        .object([
            "url": .string(prefix.appending(fileName(settings)).description), "format": .string(settings.gif ? "gif" : "webp"),
            "width": .integer(preview.width), "height": .integer(preview.height), "frames": .integer(preview.frames),
            "excerpts": .integer(preview.excerpts), "duration_s": .double(preview.durationSeconds),
        ])
    }

    /// The waveform the options ask for (nil: none asked for, or no audio).
    static func waveform(_ options: PreviewOptions, hasAudio: Bool, input path: String, durationSeconds: Double, output: String,
                         prefix: StorageLocation, limits: MediaLimits) async throws -> JSONValue? {
        guard let wanted = options.waveform, hasAudio else { return nil }
        return try await waveform(input: path, options: wanted, durationSeconds: durationSeconds, output: output, prefix: prefix, limits: limits)
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
