import RedisClient
import Synchronization

/// The seed of the event ids one script call makes (32 hex digits shaped as a UUIDv4; the
/// script counts up in its last 8). Made without a system call: Foundation's `UUID()` opened
/// and read /dev/urandom for every call, which showed in the queue benchmark's profile.
/// Two random words drawn once per process, plus a call counter, each mixed by splitmix64's
/// finaliser (a bijection): distinct per call within a process, random across processes.
enum EventIDSeed {
    private static let bases: (UInt64, UInt64) = {
        var system = SystemRandomNumberGenerator()
        return (system.next(), system.next())
    }()
    private static let calls = Atomic<UInt64>(0)

    static func next() -> String {
        let call = calls.add(1, ordering: .relaxed).newValue
        var high = mix(bases.0 &+ call)
        var low = mix(bases.1 &+ call)
        high = (high & ~0xF000) | 0x4000                       // version 4
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)         // variant 10xx
        return lowercaseHex(withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Array($0) })
    }

    /// splitmix64's output function: a bijection on 64 bits that spreads a counter's bits.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
