/// Text made safe inside XML and HTML, in element bodies and in quoted attributes alike: the five
/// characters that can end a value or start markup become entities (`'` as `&#39;`, which HTML and
/// XML both read). The one escaper of the dashboard's pages, the DASH manifests and S3's request
/// bodies.
public func markupEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
