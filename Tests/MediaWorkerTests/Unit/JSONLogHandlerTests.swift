import Foundation
import Logging
import MediaWorker
import Synchronization
import Testing

@Suite("JSONLogHandler")
struct JSONLogHandlerTests {
    @Test("one JSON object per line with time, level, logger, message and metadata")
    func jsonLines() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "test") { label in
            JSONLogHandler(label: label, level: .info) { line in lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "worker_id"] = "w-1"
        logger.debug("not shown")
        logger.info("job \"done\"\nnext", metadata: ["job_id": "j-1", "attempt": .stringConvertible(2)])
        let captured = lines.withLock { $0 }
        #expect(captured.count == 1)
        let line = try #require(captured.first)
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "test")
        #expect(object["msg"] as? String == "job \"done\"\nnext")
        #expect(object["job_id"] as? String == "j-1")
        #expect(object["attempt"] as? String == "2")
        #expect(object["worker_id"] as? String == "w-1")
        let timestamp = try #require(object["ts"] as? String)
        #expect(try Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) <= Date())
    }
}
