import RedisClient

/// The queue's Redis scripts: one atomic Lua script per queue transition (the BullMQ way), each a
/// file in `Sources/QueueClient/Lua/`, shared helpers in `Lua/include/`, embedded into
/// `EmbeddedLua.swift` by `scripts/embed-lua.py` (`make lua`).
///
/// A script as Redis runs it is the prelude, the includes its body calls (each helper is a
/// closure made on every call, so a script carries only what it uses), then its body. The
/// cluster variant has the slot-migration guard in the prelude (`include/migration_guard.lua`);
/// one server and Sentinel run the plain one.
public enum QueueScripts {
    static func assemble(name: String, includes: [String], body: String) -> RedisScript {
        let tail = includes.map { $0 + "\n" }.joined() + "-- " + name + "\n" + body
        let marker = "--@migration-guard@"
        return RedisScript(
            name: name,
            source: EmbeddedLua.prelude.replacingOccurrences(of: marker, with: "") + "\n" + tail,
            clusterSource: EmbeddedLua.prelude.replacingOccurrences(of: marker, with: EmbeddedLua.migrationGuard) + "\n" + tail)
    }
}
