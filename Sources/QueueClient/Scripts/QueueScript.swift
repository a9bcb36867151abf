import Crypto
import Foundation

/// One atomic Lua script per queue transition (the BullMQ way), run by SHA with EVALSHA.
///
/// A script is the prelude, the shared helpers it uses (`Include`), then its own body. Each has
/// two variants: the cluster one starts with the slot-migration guard (see
/// `LuaPrelude.migrationGuard`); one server and Sentinel run the plain one.
public struct QueueScript: Sendable, Hashable {
    /// Shared Lua loaded only into the scripts that call it: every helper is a closure made on
    /// every call, so a script carries only what it uses.
    enum Include: Int, Comparable, Sendable {
        /// Split jobs' parts and parents (`LuaGraph`).
        case graph
        /// Taking work: promotion, lease recovery, the take (`LuaTake`; needs `graph`).
        case take

        static func < (lhs: Include, rhs: Include) -> Bool { lhs.rawValue < rhs.rawValue }

        var source: String {
            switch self {
            case .graph: LuaGraph.source
            case .take: LuaTake.source
            }
        }

        /// The functions this include defines (`local function <name>(`).
        var functions: [String] {
            source.split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "local function ") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != "(" })
            }
        }

        /// The includes a script body calls into, with what those call in turn.
        static func used(by body: String) -> [Include] {
            var used: Set<Include> = []
            for include in [Include.take, .graph] where include.functions.contains(where: { body.contains($0 + "(") }) {
                used.insert(include)
            }
            if used.contains(.take) { used.insert(.graph) }
            return used.sorted()
        }
    }

    public let name: String
    /// The plain variant's source: the prelude, the includes, the script's own body.
    public let source: String
    /// What EVALSHA calls it by: computed here, so no shared table of SHAs is needed.
    public let sha1: String
    /// The Redis Cluster variant (the migration guard first).
    public let clusterSource: String
    public let clusterSHA1: String

    /// The includes a script carries.
    let includes: [Include]

    init(name: String, body: String) {
        self.name = name
        self.includes = Include.used(by: body)
        let shared = includes.map { $0.source + "\n" }.joined()
        let tail = shared + "-- " + name + "\n" + body
        self.source = LuaPrelude.source.replacingOccurrences(of: "--@migration-guard@", with: "") + "\n" + tail
        self.clusterSource = LuaPrelude.source.replacingOccurrences(of: "--@migration-guard@", with: LuaPrelude.migrationGuard) + "\n" + tail
        self.sha1 = JobQueue.hex(Insecure.SHA1.hash(data: Array(source.utf8)))
        self.clusterSHA1 = JobQueue.hex(Insecure.SHA1.hash(data: Array(clusterSource.utf8)))
    }

    /// The variant for a server of this kind.
    func variant(cluster: Bool) -> (source: String, sha1: String) {
        cluster ? (clusterSource, clusterSHA1) : (source, sha1)
    }

    public static let all: [QueueScript] = [
        .ingest, .ingestInvalid, .claim, .requeueClaimed, .fetch, .heartbeat, .progress, .annotate,
        .release, .finish, .fail, .cancel, .deadRetry, .deadDelete, .deadPurge, .versionOpen, .publishBegin, .slotLock, .slotUnlock, .slotCurrent,
        .janitorTake, .janitorDone, .janitorLater, .fanOut, .partResults, .webhookAccept, .webhookTake, .webhookRecord, .webhookRedeliver, .webhookLost,
    ]
}
