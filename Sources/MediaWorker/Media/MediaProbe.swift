import CFFmpegShim

/// Reads an input's container and stream parameters through the shim.
public enum MediaProbe {
    public static func probe(path: String, limits: MediaLimits = MediaLimits()) async throws(MediaError) -> MediaInfo {
        let token = CancelToken()
        let result: Result<MediaInfo, MediaError>
        do {
            result = try await BlockingWork.run(cancel: token) { probeSynchronously(path: path, limits: limits, cancel: token) }
        } catch {
            throw MediaError(code: .canceled, message: "probe was not run: \(error)")
        }
        return try result.get()
    }

    static func probeSynchronously(path: String, limits: MediaLimits, cancel: CancelToken?) -> Result<MediaInfo, MediaError> {
        var shimLimits = limits.shimValue
        let info = UnsafeMutablePointer<mw_media_info>.allocate(capacity: 1)  // ~20 KB: keep it off the stack
        defer { info.deallocate() }
        var message = [CChar](repeating: 0, count: 512)
        let status = mw_probe_file(path, &shimLimits, cancel?.raw, info, &message, message.count)
        guard status == MW_OK else {
            return .failure(MediaError(status: status, message: cString(message)))
        }
        return .success(MediaInfo(info.pointee))
    }
}

extension MediaInfo {
    init(_ raw: mw_media_info) {
        var raw = raw
        let streams = withUnsafeBytes(of: &raw.streams) { buffer in
            Array(buffer.bindMemory(to: mw_stream_info.self).prefix(Int(raw.stream_count)))
        }
        self.init(
            container: cString(raw.container),
            durationSeconds: raw.duration_us >= 0 ? Double(raw.duration_us) / 1e6 : nil,
            bitRate: raw.bit_rate > 0 ? raw.bit_rate : nil,
            sizeBytes: raw.size_bytes >= 0 ? raw.size_bytes : nil,
            streams: streams.map(StreamInfo.init))
    }
}

extension StreamInfo {
    init(_ raw: mw_stream_info) {
        let type: MediaType
        switch mw_media_type(rawValue: UInt32(raw.media_type)) {
        case MW_MEDIA_VIDEO: type = .video
        case MW_MEDIA_AUDIO: type = .audio
        case MW_MEDIA_SUBTITLE: type = .subtitle
        case MW_MEDIA_DATA: type = .data
        default: type = .other
        }
        let video = type == .video
        let audio = type == .audio
        let profile = cString(raw.profile)
        self.init(
            index: Int(raw.index), type: type, codec: cString(raw.codec),
            profile: profile.isEmpty ? nil : profile,
            level: raw.level > 0 ? Int(raw.level) : nil,
            bitRate: raw.bit_rate > 0 ? raw.bit_rate : nil,
            durationSeconds: raw.duration_us >= 0 ? Double(raw.duration_us) / 1e6 : nil,
            width: video ? Int(raw.width) : nil,
            height: video ? Int(raw.height) : nil,
            sampleAspectRatio: video && raw.sar_num > 0 ? "\(raw.sar_num):\(raw.sar_den)" : nil,
            averageFrameRate: video ? "\(raw.avg_fps_num)/\(raw.avg_fps_den)" : nil,
            realFrameRate: video ? "\(raw.real_fps_num)/\(raw.real_fps_den)" : nil,
            pixelFormat: video ? nonEmpty(cString(raw.pix_fmt)) : nil,
            bitDepth: raw.bit_depth > 0 ? Int(raw.bit_depth) : nil,
            rotation: video ? Int(raw.rotation_deg) : nil,
            fieldOrder: video ? nonEmpty(cString(raw.field_order)) : nil,
            isAttachedPicture: raw.is_attached_picture != 0,
            sampleRate: audio ? Int(raw.sample_rate) : nil,
            channels: audio ? Int(raw.channels) : nil,
            channelLayout: audio ? nonEmpty(cString(raw.channel_layout)) : nil,
            sampleFormat: audio ? nonEmpty(cString(raw.sample_fmt)) : nil,
            language: nonEmpty(cString(raw.language)), title: nonEmpty(cString(raw.title)), isDefault: raw.is_default != 0)
    }
}

private func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

/// A NUL-terminated C char buffer as a String.
func cString(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A fixed-size C char array (imported as a tuple) as a String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { buffer in
        let bytes = buffer.bindMemory(to: UInt8.self)
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
