import Foundation
import JobContract
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test("values parse as Foundation's parser reads them, and write back to equal values", arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-0.5,"g":1e3,"h":"\u00e9\ud83d\ude00\n\t\"\\/"}"#,
        "[]", "{}", #""plain""#, "0", "-12.5E-2", #"[[[[]]]]"#, #"{"k":"\u0000"}"#, "  [1 , 2 ]  ",
        #""Grüße, 世界""#,
    ])
    func agreesWithFoundation(text: String) throws {
        let ours = try JSONValue.parse(text)
        let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == theirs)
        #expect(try JSONValue.parse(ours.jsonText) == ours)
        #expect(try JSONSerialization.jsonObject(with: Data(ours.jsonText.utf8), options: .fragmentsAllowed) is Any)
    }

    @Test("invalid documents are refused", arguments: [
        "", "{", "[1,]", #"{"a":1,}"#, "01", "1.", ".5", "-", "+1", "NaN", "Infinity", "tru", "nul", #""unterminated"#,
        "\"tab\there\"", #""\x41""#, #""\ud800""#, #""\udc00x""#, "[1] 2", #"{"a" 1}"#, #"{1:2}"#, "1e", "1e999",
    ])
    func refused(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test("a repeated field name: the last one wins (RFC 8259 leaves it open)")
    func duplicateKeys() throws {
        #expect(try JSONValue.parse(#"{"dup":1,"dup":2}"#) == .object(["dup": .number(2)]))
    }

    @Test("nesting is limited while parsing")
    func depthLimit() throws {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 1_000_000)) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 33) + String(repeating: "]", count: 33), maxDepth: 32) }
        _ = try JSONValue.parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32), maxDepth: 32)
    }

    @Test("written JSON escapes what it must and sorts keys")
    func writing() {
        let value = JSONValue.object(["b": .string("line\nquote\"back\\slash\u{01}"), "a": .number(3), "c": .number(0.25), "d": .array([.null, .bool(true)])])
        #expect(value.jsonText == #"{"a":3,"b":"line\nquote\"back\\slash\u0001","c":0.25,"d":[null,true]}"#)
    }
}
