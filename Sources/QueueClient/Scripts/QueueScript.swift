/// One atomic Lua script per queue transition (the BullMQ way), run by SHA with EVALSHA.
public struct QueueScript: Sendable, Hashable {
    public let name: String
    /// The prelude followed by the script's own body.
    public let source: String

    init(name: String, body: String) {
        self.name = name
        self.source = LuaPrelude.source + "\n" + LuaTake.source + "\n-- " + name + "\n" + body
    }

    public static let all: [QueueScript] = [
        .ingest, .ingestInvalid, .claim, .requeueClaimed, .fetch, .heartbeat, .progress, .annotate,
        .release, .finish, .fail, .cancel, .deadRetry, .deadPurge,
    ]
}
