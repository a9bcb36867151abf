/// Writes commands in RESP (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument) straight
/// from the caller's strings into the connection's write buffer: each argument's bytes are
/// copied once, where a job's payload used to be copied four times on its way to the socket.
enum RESPWriter {
    static func append(_ arguments: [String], to wire: inout [UInt8]) {
        appendHeader(UInt8(ascii: "*"), arguments.count, to: &wire)
        for argument in arguments {
            var argument = argument
            // Native Swift strings are contiguous UTF-8; a bridged one is made so once.
            argument.withUTF8 { bytes in
                appendHeader(UInt8(ascii: "$"), bytes.count, to: &wire)
                wire.append(contentsOf: bytes)
            }
            wire.append(13)
            wire.append(10)
        }
    }

    static func append(_ arguments: [[UInt8]], to wire: inout [UInt8]) {
        appendHeader(UInt8(ascii: "*"), arguments.count, to: &wire)
        for argument in arguments {
            appendHeader(UInt8(ascii: "$"), argument.count, to: &wire)
            wire.append(contentsOf: argument)
            wire.append(13)
            wire.append(10)
        }
    }

    /// `<marker><decimal>\r\n` (a number's text is a small string: no allocation).
    private static func appendHeader(_ marker: UInt8, _ value: Int, to wire: inout [UInt8]) {
        wire.append(marker)
        wire.append(contentsOf: String(value).utf8)
        wire.append(13)
        wire.append(10)
    }
}
