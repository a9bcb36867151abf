import Foundation
@testable import QueueClient
import RedisClient
import TestSupport
import Testing

/// The queue's Lua lives in Sources/QueueClient/Lua/ (one file per script, shared code in
/// include/); the worker carries it embedded. These keep the two the same and the Lua loadable.
@Suite("Queue scripts (Lua files)")
struct LuaScriptsTests {
    static let luaFolder = ProjectPaths.root.appendingPathComponent("Sources/QueueClient/Lua")

    @Test("the embedded scripts are the Lua files (scripts/embed-lua.py writes them)")
    func embeddedCopyIsCurrent() async throws {
        #expect(try await TestSupport.embeddedCopyIsCurrent("embed-lua.py"), "EmbeddedLua.swift differs from Sources/QueueClient/Lua: run make lua")
    }

    @Test("every Lua file is a script the queue loads, and every script is a file")
    func oneFilePerScript() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.luaFolder.path)
            .filter { $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }
        #expect(Set(files) == Set(QueueScripts.all.map(\.name)))
        #expect(files.count == QueueScripts.all.count)
        for script in QueueScripts.all {
            let file = try String(contentsOf: Self.luaFolder.appendingPathComponent(script.name + ".lua"), encoding: .utf8)
            // The file's last code line is the script's last line as Redis runs it.
            let last = file.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            #expect(script.source.hasSuffix(last), "\(script.name)")
            #expect(script.clusterSource.contains("migration-guard"), "\(script.name): the cluster variant has the guard")
            #expect(!script.source.contains("'migration-guard'"), "\(script.name): one server runs no guard")
        }
    }

    @Test("each script loads into redis-server under the SHA-1 the client runs it by, both variants")
    func scriptsLoad() async throws {
        try await RedisServer.with { server in
            let client = RedisClient(url: try RedisURL(parsing: server.url))
            for script in QueueScripts.all {
                for (source, sha1) in [(script.source, script.sha1), (script.clusterSource, script.clusterSHA1)] {
                    let reply = try await client.command(["SCRIPT", "LOAD", source])
                    #expect(reply.string == sha1, "\(script.name): \(reply)")
                }
            }
            await client.close()
        }
    }
}
