import Tracing

/// The body of an OTLP/HTTP trace export: an `ExportTraceServiceRequest` in protobuf's binary
/// form (opentelemetry-proto `collector/trace/v1`, `trace/v1`, `common/v1`, `resource/v1`),
/// written field by field: one resource, one instrumentation scope, the batch's spans (each
/// encoded when it ended).
enum OTLPTraceEncoder {
    /// The request around spans already encoded as `ScopeSpans` field 2 (`SpanExportQueue`),
    /// into `request` (cleared first; the exporter reuses one writer's buffer). The lengths are
    /// known before the spans are copied, so the batch is copied once and never moved.
    static func write(encodedSpans: [UInt8], resource: [(String, String)], scope: (name: String, version: String), into request: inout ProtobufWriter) {
        var resourceMessage = ProtobufWriter()
        resourceMessage.message(1) { attributes in
            for (key, value) in resource {
                attributes.message(1) { keyValue(key, .string(value), into: &$0) }
            }
        }
        var scopeHeader = ProtobufWriter()
        scopeHeader.message(1) { instrumentationScope in
            instrumentationScope.string(1, scope.name)
            instrumentationScope.string(2, scope.version)
        }
        let scopeSpansLength = scopeHeader.bytes.count + encodedSpans.count
        let resourceSpansLength = resourceMessage.bytes.count + ProtobufWriter.lengthDelimitedHeaderSize(field: 2, length: scopeSpansLength) + scopeSpansLength
        request.clear()
        request.lengthDelimitedHeader(field: 1, length: resourceSpansLength)
        request.bytes += resourceMessage.bytes
        request.lengthDelimitedHeader(field: 2, length: scopeSpansLength)
        request.bytes += scopeHeader.bytes
        request.bytes += encodedSpans
    }

    // Span: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6,
    // start 7, end 8, attributes 9, events 11, links 13, status 15, flags 16.
    static func encode(_ span: FinishedSpan, into out: inout ProtobufWriter) {
        out.traceID(1, span.identity)
        out.spanID(2, span.identity.spanID)
        if let state = span.identity.traceState, !state.isEmpty { out.string(3, state) }
        if span.parentSpanID != 0 { out.spanID(4, span.parentSpanID) }
        out.string(5, span.name)
        out.varint(6, kindNumber(span.kind))
        out.fixed64(7, span.start)
        out.fixed64(8, span.end)
        for attribute in span.attributes {
            out.message(9) { keyValue(attribute.key, attribute.value, into: &$0) }
        }
        for event in span.events {
            out.message(11) { eventMessage in
                eventMessage.fixed64(1, event.nanosecondsSinceEpoch)
                eventMessage.string(2, event.name)
                event.attributes.forEach { key, value in
                    eventMessage.message(3) { keyValue(key, value, into: &$0) }
                }
            }
        }
        for link in span.links {
            out.message(13) { linkMessage in
                linkMessage.traceID(1, link.identity)
                linkMessage.spanID(2, link.identity.spanID)
                if let state = link.identity.traceState, !state.isEmpty { linkMessage.string(3, state) }
                for attribute in link.attributes {
                    linkMessage.message(4) { keyValue(attribute.key, attribute.value, into: &$0) }
                }
                linkMessage.fixed32(6, UInt32(link.identity.flags))
            }
        }
        if let status = span.status {
            // Status: message 2, code 3 (1 ok, 2 error).
            out.message(15) { statusMessage in
                if let message = status.message, !message.isEmpty { statusMessage.string(2, message) }
                statusMessage.varint(3, status.code == .ok ? 1 : 2)
            }
        }
        out.fixed32(16, UInt32(span.identity.flags))
    }

    static func kindNumber(_ kind: SpanKind) -> UInt64 {
        switch kind {
        case .internal: return 1
        case .server: return 2
        case .client: return 3
        case .producer: return 4
        case .consumer: return 5
        }
    }

    /// KeyValue: key 1, value 2 (AnyValue).
    static func keyValue(_ key: String, _ value: SpanAttribute, into out: inout ProtobufWriter) {
        out.string(1, key)
        out.message(2) { anyValue(value, into: &$0) }
    }

    /// AnyValue: string 1, bool 2, int 3, double 4, array 5 (ArrayValue: values 1).
    static func anyValue(_ value: SpanAttribute, into out: inout ProtobufWriter) {
        switch value {
        case .string(let text): out.string(1, text)
        case .bool(let flag): out.varint(2, flag ? 1 : 0)
        case .int32(let number): out.varint(3, UInt64(bitPattern: Int64(number)))
        case .int64(let number): out.varint(3, UInt64(bitPattern: number))
        case .double(let number): out.fixed64(4, number.bitPattern)
        case .stringArray(let items): out.message(5) { array in for item in items { array.message(1) { $0.string(1, item) } } }
        case .boolArray(let items): out.message(5) { array in for item in items { array.message(1) { $0.varint(2, item ? 1 : 0) } } }
        case .int32Array(let items): out.message(5) { array in for item in items { array.message(1) { $0.varint(3, UInt64(bitPattern: Int64(item))) } } }
        case .int64Array(let items): out.message(5) { array in for item in items { array.message(1) { $0.varint(3, UInt64(bitPattern: item)) } } }
        case .doubleArray(let items): out.message(5) { array in for item in items { array.message(1) { $0.fixed64(4, item.bitPattern) } } }
        case .stringConvertible(let item): out.string(1, item.description)
        case .stringConvertibleArray(let items): out.message(5) { array in for item in items { array.message(1) { $0.string(1, item.description) } } }
        default: out.string(1, "\(value)")
        }
    }
}

/// Protocol Buffers' binary encoding, the few wire types OTLP uses, into one growing buffer.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Empty, keeping the buffer.
    mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
    }

    private mutating func raw(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func key(_ field: Int, wireType: UInt64) {
        raw(UInt64(field) << 3 | wireType)
    }

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        raw(value)
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        key(field, wireType: 1)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        key(field, wireType: 5)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ field: Int, _ value: String) {
        key(field, wireType: 2)
        raw(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// A 16-byte trace id, big-endian as W3C prints it.
    mutating func traceID(_ field: Int, _ identity: SpanIdentity) {
        key(field, wireType: 2)
        raw(16)
        withUnsafeBytes(of: identity.traceHigh.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: identity.traceLow.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// An 8-byte span id, big-endian.
    mutating func spanID(_ field: Int, _ id: UInt64) {
        key(field, wireType: 2)
        raw(8)
        withUnsafeBytes(of: id.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// The key and length of a length-delimited field whose body follows.
    mutating func lengthDelimitedHeader(field: Int, length: Int) {
        key(field, wireType: 2)
        raw(UInt64(length))
    }

    /// How many bytes `lengthDelimitedHeader` writes.
    static func lengthDelimitedHeaderSize(field: Int, length: Int) -> Int {
        var header = ProtobufWriter()
        header.lengthDelimitedHeader(field: field, length: length)
        return header.bytes.count
    }

    /// A nested message, written in place after a one-byte length; a body of 128 bytes or
    /// more moves over to make room for its longer length (a span's few hundred bytes).
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        key(field, wireType: 2)
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        let length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(length)
        } else {
            var prefix = ProtobufWriter()
            prefix.raw(UInt64(length))
            bytes.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix.bytes)
        }
    }
}
