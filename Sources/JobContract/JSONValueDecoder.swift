/// Decodes `Decodable` types straight from a `JSONValue`: the typed options of a job are read
/// from the value the schema has just checked, with errors that name the field
/// (`options.output.width`), and numbers read exactly (an `Int` from `1e3` or `2.0` too,
/// as JSON Schema's `integer` allows).
public struct JSONValueDecoder {
    /// Where the value sits in the job, for messages (`options`).
    public var rootPath: String

    public init(rootPath: String = "") { self.rootPath = rootPath }

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: [], rootPath: rootPath))
    }
}

/// A field that cannot be read as its type: the path and the reason.
public struct JSONValueDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

private func describe(_ rootPath: String, _ codingPath: [any CodingKey]) -> String {
    var path = rootPath
    for key in codingPath {
        if let index = key.intValue { path += "[\(index)]" } else { path += path.isEmpty ? key.stringValue : "." + key.stringValue }
    }
    return path
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let rootPath: String
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func failure(_ message: String) -> JSONValueDecodingError {
        JSONValueDecodingError(path: describe(rootPath, codingPath), message: message)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = value else { throw failure("must be an object") }
        return KeyedDecodingContainer(KeyedContainer<Key>(fields: fields, codingPath: codingPath, rootPath: rootPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw failure("must be an array") }
        return UnkeyedContainer(items: items, codingPath: codingPath, rootPath: rootPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleContainer(value: value, codingPath: codingPath, rootPath: rootPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: JSONValue]
    let codingPath: [any CodingKey]
    let rootPath: String

    var allKeys: [Key] { fields.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }

    func child(_ key: Key) throws -> ValueDecoder {
        guard let value = fields[key.stringValue] else {
            throw JSONValueDecodingError(path: describe(rootPath, codingPath + [key]), message: "is required")
        }
        return ValueDecoder(value: value, codingPath: codingPath + [key], rootPath: rootPath)
    }

    func decodeNil(forKey key: Key) throws -> Bool { fields[key.stringValue] == nil || fields[key.stringValue] == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try SingleContainer(decoder: try child(key)).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { ValueDecoder(value: .object(fields), codingPath: codingPath, rootPath: rootPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    let rootPath: String
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [any CodingKey], rootPath: String) {
        self.items = items
        self.codingPath = codingPath
        self.rootPath = rootPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> ValueDecoder {
        let key = AnyKey(intValue: currentIndex)
        guard currentIndex < items.count else {
            throw JSONValueDecodingError(path: describe(rootPath, codingPath + [key]), message: "is missing")
        }
        defer { currentIndex += 1 }
        return ValueDecoder(value: items[currentIndex], codingPath: codingPath + [key], rootPath: rootPath)
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < items.count, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try SingleContainer(decoder: try next()).decode(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let rootPath: String

    init(value: JSONValue, codingPath: [any CodingKey], rootPath: String) {
        self.value = value
        self.codingPath = codingPath
        self.rootPath = rootPath
    }

    init(decoder: ValueDecoder) {
        self.init(value: decoder.value, codingPath: decoder.codingPath, rootPath: decoder.rootPath)
    }

    func failure(_ message: String) -> JSONValueDecodingError {
        JSONValueDecodingError(path: describe(rootPath, codingPath), message: message)
    }

    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let flag) = value else { throw failure("must be true or false") }
        return flag
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let text) = value else { throw failure("must be a string") }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard case .number(let number) = value else { throw failure("must be a number") }
        return number.double
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .number(let number) = value else { throw failure("must be a whole number") }
        guard let exact = number.int64, let fitted = I(exactly: exact) else {
            throw failure("must be a whole number from \(I.min) to \(I.max)")
        }
        return fitted
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Bool.Type: return try decode(Bool.self) as! T
        case is String.Type: return try decode(String.self) as! T
        case is Double.Type: return try decode(Double.self) as! T
        case is Int.Type: return try decode(Int.self) as! T
        case is Int32.Type: return try decode(Int32.self) as! T
        case is Int64.Type: return try decode(Int64.self) as! T
        case is JSONValue.Type: return value as! T
        default: return try T(from: ValueDecoder(value: value, codingPath: codingPath, rootPath: rootPath))
        }
    }
}
