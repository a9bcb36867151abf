import Foundation
import JobContract

/// Values as the pages show them: query-string parts, JSON for reading, times. Escaping is the
/// templates' (Mustache escapes every `{{value}}`).
enum DashboardFormat {
    /// A query-string value.
    static func query(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// JSON indented for reading; numbers and strings keep their exact text.
    static func prettyJSON(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .object(let fields) where !fields.isEmpty:
            let lines = fields.keys.sorted().map { inner + JSONValue.string($0).jsonText + ": " + prettyJSON(fields[$0]!, indent: inner) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return value.jsonText
        }
    }

    static func prettyJSON(text: String) -> String {
        (try? JSONValue.parse(text)).map { prettyJSON($0) } ?? text
    }

    /// Milliseconds since 1970 as a UTC time, or "" for none.
    static func time(_ milliseconds: String?) -> String {
        guard let milliseconds, let ms = Double(milliseconds), ms > 0 else { return "" }
        return Date(timeIntervalSince1970: ms / 1000).formatted(Date.ISO8601FormatStyle()).replacingOccurrences(of: "T", with: " ")
    }
}
