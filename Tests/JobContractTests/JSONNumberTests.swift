import Foundation
import JobContract
import Testing

@Suite("JSON numbers")
struct JSONNumberTests {
    @Test("integers above 2^53 and long decimals come back exactly as the producer wrote them")
    func exactRoundTrip() throws {
        let text = #"{"big":18446744073709551615,"id":9007199254740993,"neg":-9223372036854775808,"pi":3.14159265358979323846264338327950288,"tiny":1e-7,"whole":2.0}"#
        let value = try JSONValue.parse(text)
        #expect(value.jsonText == text)
        #expect(value["id"]?.numberValue == 9_007_199_254_740_992)  // the Double is the nearest one...
        if case .number(let id)? = value["id"] { #expect(id.int64 == 9_007_199_254_740_993) }  // ...the integer is exact
        if case .number(let whole)? = value["whole"] { #expect(whole.int64 == 2) }
    }

    @Test("numbers compare by value: 1, 1.0 and 1e0 are one number; two ids above 2^53 sharing a Double are not")
    func equality() throws {
        #expect(try JSONValue.parse("1") == JSONValue.parse("1.0"))
        #expect(try JSONValue.parse("1e0") == JSONValue.parse("1"))
        #expect(try JSONValue.parse("9007199254740993") != JSONValue.parse("9007199254740992"))
        #expect(JSONValue.integer(Int64.max).jsonText == "9223372036854775807")
        #expect(JSONValue.double(0.25).jsonText == "0.25")
        #expect(JSONValue.double(3).jsonText == "3")
    }

    @Test("Codable keeps large integers too")
    func codable() throws {
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"id":9007199254740993}"#.utf8))
        #expect(decoded.jsonText == #"{"id":9007199254740993}"#)
        let encoded = try JSONEncoder().encode(decoded)
        #expect(String(decoding: encoded, as: UTF8.self) == #"{"id":9007199254740993}"#)
    }

    @Test("a job's metadata and options keep their numbers exactly, into the stored payload")
    func jobKeepsNumbers() throws {
        let item = #"{"id":"n1","type":"noop","options":{"duration_ms":1.50},"metadata":{"account":12345678901234567890,"ratio":0.1000000000000000055511151231257827}}"#
        guard case .jobs(let jobs) = JobDecoder().decide(Array(item.utf8)), let job = jobs.first else {
            Issue.record("not accepted")
            return
        }
        #expect(job.metadataJSON == #"{"account":12345678901234567890,"ratio":0.1000000000000000055511151231257827}"#)
        #expect(job.payload.contains(#""duration_ms":1.50"#))
        #expect(job.payload.contains(#""account":12345678901234567890"#))
    }
}
