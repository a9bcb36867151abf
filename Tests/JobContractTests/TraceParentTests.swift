import Foundation
import JobContract
import Testing

@Suite("W3C traceparent")
struct TraceParentTests {
    @Test("a version-00 traceparent is read: ids, sampled flag, text back")
    func readsVersion00() throws {
        let parent = try #require(TraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(parent.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && parent.parentSpanID == "00f067aa0ba902b7" && parent.sampled)
        #expect(parent.text == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(TraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // Other flag bits are kept; only bit 0 means sampled.
        #expect(TraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?.sampled == true)
        #expect(TraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")?.sampled == false)
    }

    @Test("a later version is read by its first four fields; what the recommendation calls invalid is refused")
    func versionsAndInvalid() {
        #expect(TraceParent(parsing: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        for bad in [
            "", "00", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",            // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",            // zero span id
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",            // upper case
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",      // version 00 is exactly 55
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",            // dash misplaced
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",           // a later version goes on after a dash
        ] {
            #expect(TraceParent(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("the decoder takes traceparent and tracestate as strings of at most 512 characters, and keeps them in the payload")
    func decoderFields() throws {
        let decoder = JobDecoder()
        guard case .jobs(let jobs) = decoder.decide(Array(#"{"type":"noop","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"vendor=x"}"#.utf8)) else {
            Issue.record("refused")
            return
        }
        let payload = try JSONValue.parse(Array(jobs[0].payload.utf8))
        #expect(payload["traceparent"]?.stringValue == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" && payload["tracestate"]?.stringValue == "vendor=x")
        // An unreadable one is still a job (the worker ignores it, as the recommendation says).
        guard case .jobs = decoder.decide(Array(#"{"type":"noop","traceparent":"garbage"}"#.utf8)) else { Issue.record("refused"); return }
        for bad in [#"{"type":"noop","traceparent":42}"#, #"{"type":"noop","tracestate":{"a":1}}"#,
                    #"{"type":"noop","tracestate":"\#(String(repeating: "a", count: 513))"}"#] {
            guard case .rejected(let item) = decoder.decide(Array(bad.utf8)) else { Issue.record("accepted \(bad.prefix(60))"); continue }
            #expect(item.code == "JOB_INVALID_FIELD" && item.message.contains("W3C Trace Context"), "\(item.message)")
        }
    }
}
