import Foundation
import JobContract
import Storage

/// A transcode's waveform (`options.preview.waveform`): `waveform.json` in `output`, described for
/// the event's `outputs` with its URL under `prefix`. Made by the one-pass job, or by a split
/// job's audio part (which has the whole audio).
enum TranscodeWaveform {
    static func make(input path: String, options: PreviewOptions.Waveform, durationSeconds: Double, output: String,
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
