import Foundation

/// Any JSON value, decoded strictly (true is a Bool, never the number 1), so that job
/// fields can be checked one by one with messages that name the field. Numbers keep their
/// text (see `JSONNumber`).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A number made here from a Double (whole values are written as integers).
    public static func double(_ value: Double) -> JSONValue { .number(JSONNumber(value)) }
    /// A number made here from an integer, exactly.
    public static func integer<Integer: BinaryInteger>(_ value: Integer) -> JSONValue { .number(JSONNumber(value)) }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null; return }
        if let value = try? container.decode(Bool.self) { self = .bool(value); return }
        // Integers first, so that large ids stay exact through Codable too.
        if let value = try? container.decode(Int64.self) { self = .integer(value); return }
        if let value = try? container.decode(UInt64.self) { self = .integer(value); return }
        if let value = try? container.decode(Double.self) { self = .double(value); return }
        if let value = try? container.decode(String.self) { self = .string(value); return }
        if let value = try? container.decode([JSONValue].self) { self = .array(value); return }
        self = .object(try container.decode([String: JSONValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if let exact = Int64(value.text) { try container.encode(exact) } else { try container.encode(value.double) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var numberValue: Double? { if case .number(let n) = self { return n.double } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
}
