/// A W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/), as a producer puts
/// it in the job envelope: `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`.
/// Parsed as the recommendation says: lower-case hex only, ids not all zeros, version `ff`
/// invalid, and a later version read by its first four fields (it may append more).
public struct TraceParent: Sendable, Hashable {
    public let version: String
    public let traceID: String
    public let parentSpanID: String
    public let flags: UInt8

    /// The producer recorded this trace (flag bit 0): its sampling decision, which the worker follows.
    public var sampled: Bool { flags & 1 == 1 }

    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else { return nil }
        let version = String(decoding: bytes[0..<2], as: UTF8.self)
        // Version 00 is exactly 55 characters; a later one may go on after a dash.
        guard Self.isHex(bytes[0..<2]), version != "ff" else { return nil }
        guard version == "00" ? bytes.count == 55 : (bytes.count == 55 || bytes[55] == UInt8(ascii: "-")) else { return nil }
        let trace = bytes[3..<35], span = bytes[36..<52], flags = bytes[53..<55]
        guard Self.isHex(trace), Self.isHex(span), Self.isHex(flags),
              trace.contains(where: { $0 != UInt8(ascii: "0") }), span.contains(where: { $0 != UInt8(ascii: "0") }),
              let flagValue = UInt8(String(decoding: flags, as: UTF8.self), radix: 16) else { return nil }
        self.version = version
        traceID = String(decoding: trace, as: UTF8.self)
        parentSpanID = String(decoding: span, as: UTF8.self)
        self.flags = flagValue
    }

    public init(traceID: String, parentSpanID: String, sampled: Bool) {
        version = "00"
        self.traceID = traceID
        self.parentSpanID = parentSpanID
        flags = sampled ? 1 : 0
    }

    /// The version-00 text (what the worker hands on to the parts of a split job).
    public var text: String {
        "00-\(traceID)-\(parentSpanID)-" + (flags < 16 ? "0" : "") + String(flags, radix: 16)
    }

    /// Lower-case hex only: the recommendation treats upper case as invalid.
    static func isHex(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Whether `text` is a 32-digit lower-case hex trace id, not all zeros.
    public static func isTraceID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)[...]
        return bytes.count == 32 && isHex(bytes) && bytes.contains(where: { $0 != UInt8(ascii: "0") })
    }
}
