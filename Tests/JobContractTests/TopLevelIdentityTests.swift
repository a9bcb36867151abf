import Foundation
import JobContract
import Testing

/// Items the decoder cannot take whole still name their job when they can: the producer finds the
/// dead job by the id it chose.
@Suite("Rejected items keep their id")
struct TopLevelIdentityTests {
    func rejected(_ bytes: [UInt8]) -> RejectedItem? {
        if case .rejected(let item) = JobDecoder().decide(bytes) { return item }
        return nil
    }

    @Test("an item over the size limit keeps the id and type it gives before the limit")
    func oversize() throws {
        let padding = String(repeating: "x", count: 2 << 20)
        let item = try #require(rejected(Array(#"{"type":"noop","metadata":{"a":[1,{"b":"}]\""}]},"id":"big-1","options":{"pad":"\#(padding)"}}"#.utf8)))
        #expect(item.code == "JOB_TOO_LARGE" && item.id == "big-1" && item.type == "noop")
        // The id after the limit cannot be read: a generated one.
        let late = try #require(rejected(Array(#"{"type":"noop","pad":"\#(padding)","id":"late"}"#.utf8)))
        #expect(late.code == "JOB_TOO_LARGE" && late.id.hasPrefix("rejected-"))
    }

    @Test("broken JSON after the id, escaped ids, unsafe ids")
    func brokenAfterID() throws {
        let cut = try #require(rejected(Array(#"{"id":"cut-1","type":"probe","input":{"url":"s3://a/b"#.utf8)))
        #expect(cut.code == "JOB_INVALID_JSON" && cut.id == "cut-1" && cut.type == "probe")
        let escaped = try #require(rejected(Array(#"{"id":"esc\u002d1","type":"nope"}"#.utf8)))
        #expect(escaped.id == "esc-1")
        let unsafe = try #require(rejected(Array(#"{"id":"../../etc","type":"noop","x":"#.utf8)))
        #expect(unsafe.id.hasPrefix("rejected-"))
    }
}
