import Crypto
import Foundation

/// One atomic Lua script per queue transition (the BullMQ way), run by SHA with EVALSHA.
public struct QueueScript: Sendable, Hashable {
    public let name: String
    /// The prelude followed by the script's own body.
    public let source: String
    /// What EVALSHA calls it by: computed here, so no shared table of SHAs is needed.
    public let sha1: String

    init(name: String, body: String) {
        self.name = name
        self.source = LuaPrelude.source + "\n" + LuaGraph.source + "\n" + LuaTake.source + "\n-- " + name + "\n" + body
        self.sha1 = JobQueue.hex(Insecure.SHA1.hash(data: Array(source.utf8)))
    }

    public static let all: [QueueScript] = [
        .ingest, .ingestInvalid, .claim, .requeueClaimed, .fetch, .heartbeat, .progress, .annotate,
        .release, .finish, .fail, .cancel, .deadRetry, .deadDelete, .deadPurge, .versionOpen, .publishBegin, .slotLock, .slotUnlock, .slotCurrent,
        .janitorTake, .janitorDone, .janitorLater, .fanOut, .partResults, .webhookAccept, .webhookTake, .webhookRecord, .webhookRedeliver, .webhookLost,
    ]
}
