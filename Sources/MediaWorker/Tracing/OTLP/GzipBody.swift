import CZlib

/// gzip (RFC 1952) of a request body, for `Content-Encoding: gzip` exports
/// (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`): span batches are repetitive text and shrink several-fold.
enum GzipBody {
    /// The gzip of `input`; nil only if zlib cannot start (out of memory).
    static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        guard mw_deflate_init_gzip(&stream, level) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        // deflateBound, after the gzip set-up, is enough for one Z_FINISH call.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))))
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
