/// Redis Cluster's key space: 16384 hash slots, each served by one master.
public enum ClusterSlots {
    public static let count = 16384

    /// The slot of a key: CRC16 (XMODEM) of its hash tag (the text between the first `{` and the
    /// next `}`, when not empty) or of the whole key, modulo 16384.
    public static func slot(of key: String) -> Int {
        var bytes = Array(key.utf8)
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            bytes = Array(bytes[(open + 1)..<close])
        }
        return Int(crc16(bytes)) & (count - 1)
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    /// The key a command is routed by; nil for commands without one (CLIENT, SCRIPT, PING, …).
    /// Our commands and scripts keep all their keys in one slot, so the first key decides.
    public static func routingKey(of arguments: [String]) -> String? {
        guard let name = arguments.first?.uppercased() else { return nil }
        switch name {
        case "EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL":
            guard arguments.count > 3, let keys = Int(arguments[2]), keys > 0 else { return nil }
            return arguments[3]
        case "XREAD", "XREADGROUP":
            guard let streams = arguments.firstIndex(where: { $0.uppercased() == "STREAMS" }), streams + 1 < arguments.count else { return nil }
            return arguments[streams + 1]
        case "XGROUP", "XINFO":
            return arguments.count > 2 ? arguments[2] : nil
        case "CLIENT", "SCRIPT", "PING", "INFO", "WAIT", "CLUSTER", "ROLE", "ASKING", "READONLY", "SELECT", "AUTH",
             "HELLO", "DBSIZE", "TIME", "CONFIG", "FLUSHALL", "FLUSHDB", "KEYS", "SCAN", "SENTINEL", "SUBSCRIBE":
            return nil
        default:
            return arguments.count > 1 ? arguments[1] : nil
        }
    }
}

/// Which master serves which slots, from `CLUSTER SLOTS`.
struct ClusterSlotMap: Sendable {
    struct Range: Sendable {
        var first: Int
        var last: Int
        var master: RedisURL.Endpoint
    }

    private(set) var ranges: [Range] = []

    /// `CLUSTER SLOTS`: [[first, last, [host, port, id, …], replicas…], …]. An empty host means
    /// the node that answered (`answeredBy`).
    init(reply: RedisReply, answeredBy: RedisURL.Endpoint) throws(RedisError) {
        guard let entries = reply.array else { throw .unexpectedReply("CLUSTER SLOTS answered \(reply)") }
        for entry in entries {
            guard let fields = entry.array, fields.count >= 3, let first = fields[0].integer, let last = fields[1].integer,
                  let node = fields[2].array, node.count >= 2, let host = node[0].string, let port = node[1].integer
            else { throw .unexpectedReply("CLUSTER SLOTS entry \(entry)") }
            var master = RedisURL.Endpoint.tcp(host: host, port: Int(port))
            if host.isEmpty || host == "?", case .tcp(let seedHost, _) = answeredBy { master = .tcp(host: seedHost, port: Int(port)) }
            ranges.append(Range(first: Int(first), last: Int(last), master: master))
        }
        ranges.sort { $0.first < $1.first }
        guard !ranges.isEmpty else { throw .topology("the cluster serves no slots yet") }
    }

    func master(of slot: Int) -> RedisURL.Endpoint? {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if ranges[middle].last < slot { low = middle + 1 } else if ranges[middle].first > slot { high = middle - 1 } else { return ranges[middle].master }
        }
        return nil
    }

    /// Moves one slot to another master (a MOVED reply), until the next full refresh.
    mutating func assign(slot: Int, to master: RedisURL.Endpoint) {
        guard let index = ranges.firstIndex(where: { $0.first <= slot && slot <= $0.last }) else {
            ranges.append(Range(first: slot, last: slot, master: master))
            ranges.sort { $0.first < $1.first }
            return
        }
        let old = ranges[index]
        var replacement: [Range] = []
        if old.first < slot { replacement.append(Range(first: old.first, last: slot - 1, master: old.master)) }
        replacement.append(Range(first: slot, last: slot, master: master))
        if slot < old.last { replacement.append(Range(first: slot + 1, last: old.last, master: old.master)) }
        ranges.replaceSubrange(index...index, with: replacement)
    }

    var masters: Set<RedisURL.Endpoint> { Set(ranges.map(\.master)) }
}

/// A cluster's redirection or "not now" answer to one command.
enum ClusterRedirect: Equatable {
    /// The slot lives elsewhere for good: update the map and resend there.
    case moved(slot: Int, to: RedisURL.Endpoint)
    /// The slot is being migrated and this key is already at `to`: resend there once, after ASKING.
    case ask(slot: Int, to: RedisURL.Endpoint)
    /// Try again shortly (a migration in progress, the cluster down during a failover).
    case later

    init?(_ reply: RedisReply) {
        guard case .error(let message) = reply else { return nil }
        let words = message.split(separator: " ")
        switch words.first {
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), let endpoint = Self.endpoint(String(words[2])) else { return nil }
            self = words[0] == "MOVED" ? .moved(slot: slot, to: endpoint) : .ask(slot: slot, to: endpoint)
        case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN":
            self = .later
        default:
            // A script touching a key of a slot in migration is stopped by its first command (see
            // the scripts' migration guard, Lua/include/migration_guard.lua), before any write: wait for the migration to end.
            if message.contains("non local key") || message.contains("UNBLOCKED") { self = .later } else { return nil }
        }
    }

    private static func endpoint(_ text: String) -> RedisURL.Endpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .tcp(host: host, port: port)
    }
}
