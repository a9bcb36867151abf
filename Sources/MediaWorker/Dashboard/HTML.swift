import Foundation
import MarkupEscaping
import JobContract

/// Server-rendered HTML: every value from Redis (payloads, ids, messages) goes through
/// `escape`, so no page can carry markup a producer put in a job.
enum HTML {
    static func escape(_ text: String) -> String { markupEscaped(text) }

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

    /// A POST form with one button; nothing at all in read-only mode.
    static func action(_ path: String, label: String, fields: [String: String], session: DashboardSession, confirm: Bool = false) -> String {
        guard !session.readOnly else { return "" }
        var form = "<form class=\"inline\" method=\"post\" action=\"\(escape(path))\">"
        form += "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(session.csrf))\">"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            form += "<input type=\"hidden\" name=\"\(escape(name))\" value=\"\(escape(value))\">"
        }
        return form + "<button type=\"submit\" class=\"\(confirm ? "danger" : "")\" data-action=\"\(escape(label))\">\(escape(label))</button></form>"
    }

    static let style = """
    body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
    header{background:#1d3557;color:#fff;padding:.6em 1em;display:flex;gap:1.2em;align-items:center}
    header a{color:#fff;text-decoration:none}header a.on{text-decoration:underline}
    header .logout{margin-left:auto}header .ro+.logout{margin-left:0}
    header .ro{margin-left:auto;background:#e63946;padding:.1em .5em;border-radius:3px}
    main{padding:1em 1.5em}table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0 1.5em}
    th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;font-size:.9em;vertical-align:top}
    th{background:#eef}pre{background:#fff;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em;font-size:.85em}
    .alert{background:#fde2e4;border:1px solid #e63946;padding:.5em 1em;margin:.5em 0}
    .notice{background:#e8f5e9;border:1px solid #2a9d8f;padding:.5em 1em;margin:.5em 0}
    form.inline{display:inline}button{cursor:pointer}button.danger{color:#a00}
    .bar{background:#ddd;width:12em;height:.9em;display:inline-block;vertical-align:middle}
    .bar span{background:#2a9d8f;height:100%;display:block}
    .tabs a{margin-right:1em}.tabs a.on{font-weight:bold}svg{background:#fff;border:1px solid #ddd}
    """

    static func page(title: String, active: String, session: DashboardSession, notice: String? = nil, body: String) -> String {
        let links = [("/", "Overview"), ("/jobs", "Jobs"), ("/dead", "Dead letters"), ("/workers", "Workers"),
                     ("/events", "Live events"), ("/webhooks", "Webhooks")]
        let nav = links.map { "<a href=\"\($0.0)\" class=\"\($0.1 == active ? "on" : "")\">\($0.1)</a>" }.joined()
        // Shown to a logged-in browser, read-only or not: a session can always be ended.
        let logout = session.loggedIn
            ? "<form class=\"inline logout\" method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"\(escape(session.csrf))\"><button type=\"submit\" id=\"logout\">Log out</button></form>"
            : ""
        return """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · MediaWorker</title>
        <style>\(style)</style></head><body><header><strong>MediaWorker</strong>\(nav)\(session.readOnly ? "<span class=\"ro\">read-only</span>" : "")\(logout)</header>
        <main>\(notice.map { "<div class=\"notice\" id=\"notice\">\(escape($0))</div>" } ?? "")\(body)</main></body></html>
        """
    }
}
