/// A W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/), as a producer puts
/// it in the job envelope: `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`.
/// Parsed as the recommendation says: lower-case hex only, ids not all zeros, version `ff`
/// invalid, and a later version read by its first four fields (it may append more).
/// The ids are kept as numbers (read in one pass over the text: the worker reads one per job);
/// their hex text is made when asked for.
public struct TraceParent: Sendable, Hashable {
    public let versionNumber: UInt8
    /// The 128-bit trace id's high and low halves, and the 64-bit parent span id.
    public let traceHigh: UInt64
    public let traceLow: UInt64
    public let parentSpan: UInt64
    public let flags: UInt8

    public var version: String { Self.hex(UInt64(versionNumber), digits: 2) }
    public var traceID: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            Self.writeHex(traceHigh, digits: 16, into: buffer, at: 0)
            Self.writeHex(traceLow, digits: 16, into: buffer, at: 16)
            return 32
        }
    }
    public var parentSpanID: String { Self.hex(parentSpan, digits: 16) }

    /// The producer recorded this trace (flag bit 0): its sampling decision, which the worker follows.
    public var sampled: Bool { flags & 1 == 1 }

    public init?(parsing text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    /// A version-00 context from hex ids; nil unless both are valid (lower-case hex, 32 and 16
    /// digits, not all zeros).
    public init?(traceID: String, parentSpanID: String, sampled: Bool) {
        self.init(parsing: "00-\(traceID)-\(parentSpanID)-0\(sampled ? 1 : 0)")
    }

    public init(traceHigh: UInt64, traceLow: UInt64, parentSpan: UInt64, flags: UInt8) {
        versionNumber = 0
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.parentSpan = parentSpan
        self.flags = flags
    }

    /// The version-00 text (what the worker hands on to the parts of a split job).
    public var text: String {
        "00-\(traceID)-\(parentSpanID)-" + Self.hex(UInt64(flags), digits: 2)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> TraceParent? {
        let dash = UInt8(ascii: "-")
        guard bytes.count >= 55, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash,
              let version = number(bytes, 0, 2), version != 0xFF else { return nil }
        // Version 00 is exactly 55 characters; a later one may go on after a dash.
        guard version == 0 ? bytes.count == 55 : (bytes.count == 55 || bytes[55] == dash) else { return nil }
        guard let high = number(bytes, 3, 16), let low = number(bytes, 19, 16), high | low != 0,
              let span = number(bytes, 36, 16), span != 0, let flags = number(bytes, 53, 2) else { return nil }
        return TraceParent(version: UInt8(version), high: high, low: low, span: span, flags: UInt8(flags))
    }

    private init(version: UInt8, high: UInt64, low: UInt64, span: UInt64, flags: UInt8) {
        versionNumber = version
        traceHigh = high
        traceLow = low
        parentSpan = span
        self.flags = flags
    }

    /// `count` lower-case hex digits at `start` (the recommendation treats upper case as invalid).
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in start..<(start + count) {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// `value`'s lowest `digits` hex digits, lower case, zero-padded.
    public static func hex(_ value: UInt64, digits count: Int) -> String {
        String(unsafeUninitializedCapacity: count) { buffer in
            writeHex(value, digits: count, into: buffer, at: 0)
            return count
        }
    }

    private static func writeHex(_ value: UInt64, digits count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        for index in 0..<count {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(4 * (count - 1 - index))) & 0xF
            buffer[start + index] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
        }
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
