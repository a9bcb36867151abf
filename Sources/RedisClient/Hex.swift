/// Lowercase hex of some bytes (Foundation's String(format:) costs more than the hashing): script
/// SHA-1s here, digests and ids in the queue.
package func lowercaseHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits: StaticString = "0123456789abcdef"
    var out: [UInt8] = []
    out.reserveCapacity(40)
    for byte in bytes {
        out.append(digits.utf8Start[Int(byte >> 4)])
        out.append(digits.utf8Start[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}
