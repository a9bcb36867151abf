import CFFmpegShim
import JobContract

/// An audio waveform in BBC audiowaveform's JSON format (version 2, one channel) for players
/// such as peaks.js: min/max pairs per pixel at `pixelsPerSecond`, from the best audio stream
/// mixed to mono at its own rate (`waveform.json` of a transcode).
public struct AudioWaveform: Sendable, Equatable {
    public var sampleRate: Int
    public var samplesPerPixel: Int
    public var bits: Int
    /// min, max, min, max, … one pair per pixel.
    public var data: [Int16]
    /// The audio went on past what was planned from its probed duration (then the pairs stop there).
    public var truncated: Bool

    public var pixels: Int { data.count / 2 }

    /// Reads the audio of `input`; `durationSeconds` sizes the buffer (the probe's figure).
    public static func make(
        input: String, pixelsPerSecond: Double, bits: Int, durationSeconds: Double, limits: MediaLimits = MediaLimits()
    ) async throws(MediaError) -> AudioWaveform {
        guard bits == 8 || bits == 16 else { throw MediaError(code: .invalidArgument, message: "waveform bits must be 8 or 16") }
        // Room for the probed length and a margin (durations in headers are estimates).
        let pixels = Int((max(durationSeconds, 1) * 1.1 + 5) * pixelsPerSecond) + 16
        let capacity = min(pixels * 2, Int(Int32.max))
        let callbacks = try await ShimCall.run(WaveformCallbacks(capacity: capacity)) { callbacks, token, message in
            var shimLimits = limits.shimValue
            return mw_audio_waveform(input, pixelsPerSecond, Int32(bits), &shimLimits, token.raw, callbacks.data,
                                     Int32(callbacks.capacity), callbacks.info, message, 512)
        }
        let info = callbacks.info.pointee
        return AudioWaveform(sampleRate: Int(info.sample_rate), samplesPerPixel: Int(info.samples_per_pixel), bits: Int(info.bits),
                             data: Array(UnsafeBufferPointer(start: callbacks.data, count: Int(info.pixels) * 2)),
                             truncated: info.truncated != 0)
    }

    /// audiowaveform's JSON: `{"version":2,"channels":1,"sample_rate":…,"samples_per_pixel":…,"bits":…,"length":…,"data":[…]}`.
    public var json: String {
        var text = "{\"version\":2,\"channels\":1,\"sample_rate\":\(sampleRate),\"samples_per_pixel\":\(samplesPerPixel),"
            + "\"bits\":\(bits),\"length\":\(pixels),\"data\":["
        text.reserveCapacity(text.utf8.count + data.count * 5)
        for (index, value) in data.enumerated() {
            if index > 0 { text += "," }
            text += String(value)
        }
        return text + "]}"
    }
}

/// The buffer the shim writes the waveform into (kept off the stack).
final class WaveformCallbacks: ShimCallbacks, @unchecked Sendable {
    let capacity: Int
    let data: UnsafeMutablePointer<Int16>
    let info = UnsafeMutablePointer<mw_waveform_info>.allocate(capacity: 1)

    init(capacity: Int) {
        self.capacity = capacity
        data = UnsafeMutablePointer<Int16>.allocate(capacity: capacity)
        info.initialize(to: mw_waveform_info())
        super.init(progress: nil)
    }

    required init(progress: (@Sendable (Double) -> Void)?) {
        capacity = 2
        data = UnsafeMutablePointer<Int16>.allocate(capacity: 2)
        info.initialize(to: mw_waveform_info())
        super.init(progress: progress)
    }

    deinit {
        data.deallocate()
        info.deallocate()
    }
}
