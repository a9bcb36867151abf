/// Reads the top-level `id` and `type` of a JSON object from as much of it as there is:
/// an item over the size limit (or cut short, or broken further on) still names its job when
/// those fields come before the damage. Never recurses and never reads past the bytes given.
enum TopLevelFields {
    static func scan(_ bytes: ArraySlice<UInt8>) -> (id: String?, type: String?) {
        var reader = Reader(bytes: bytes)
        var found: (id: String?, type: String?) = (nil, nil)
        reader.skipWhitespace()
        guard reader.take(UInt8(ascii: "{")) else { return found }
        while true {
            reader.skipWhitespace()
            guard let key = reader.string() else { return found }
            reader.skipWhitespace()
            guard reader.take(UInt8(ascii: ":")) else { return found }
            reader.skipWhitespace()
            if key == "id" || key == "type", reader.peek == UInt8(ascii: "\"") {
                guard let value = reader.string() else { return found }
                if key == "id", found.id == nil { found.id = value }
                if key == "type", found.type == nil { found.type = value }
            } else if !reader.skipValue() {
                return found
            }
            if found.id != nil && found.type != nil { return found }
            reader.skipWhitespace()
            guard reader.take(UInt8(ascii: ",")) else { return found }
        }
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var index: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            index = bytes.startIndex
        }

        var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        /// A whole string (escapes decoded by the real parser), or nil when it is cut off.
        mutating func string() -> String? {
            let start = index
            guard skipString() else { return nil }
            return try? JSONValue.parse(Array(bytes[start..<index])).stringValue
        }

        mutating func skipString() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            while let byte = peek {
                index += 1
                if byte == UInt8(ascii: "\\") {
                    guard peek != nil else { return false }
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    return true
                }
            }
            return false
        }

        /// Skips one value of any depth with a counter, not recursion.
        mutating func skipValue() -> Bool {
            var depth = 0
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    if depth == 0 { return true }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }  // the end of the enclosing object: the value was empty
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return true }
                default:
                    break
                }
                index += 1
            }
            return false
        }
    }
}
