import Foundation
import HTTPTypes
import Hummingbird

/// Answers of the dashboard, each with headers that keep a page from running anything it did
/// not come with (no inline scripts, no framing).
enum DashboardResponse {
    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
        (.cacheControl, "no-store"),
    ]

    static func make(_ body: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: contentType]
        for (name, value) in securityHeaders { headers[name] = value }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        make(Array(page.utf8), contentType: "text/html; charset=utf-8", status: status)
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        make(Array((text + "\n").utf8), contentType: "text/plain; charset=utf-8", status: status)
    }

    static func json(_ text: String) -> Response {
        make(Array(text.utf8), contentType: "application/json")
    }

    static func seeOther(_ location: String) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        for (name, value) in securityHeaders { response.headers[name] = value }
        return response
    }
}

/// A submitted form (application/x-www-form-urlencoded), checked against CSRF.
struct DashboardForm {
    let fields: [String: String]

    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    /// Reads the body; a cookie-authenticated form must carry the CSRF cookie's value.
    static func read(_ request: Request, auth: DashboardAuth) async throws -> DashboardForm? {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        let fields = parse(String(buffer: buffer))
        if auth.bearer(of: request) == nil {
            guard let cookie = request.cookies[DashboardAuth.csrfCookie]?.value, !cookie.isEmpty,
                  let sent = fields["csrf"], DashboardAuth.equal(cookie, sent) else { return nil }
        }
        return DashboardForm(fields: fields)
    }

    subscript(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
}

extension Request {
    /// A query parameter, percent-decoded (`+` is a space, as forms send it).
    func query(_ name: String) -> String? {
        guard let raw = uri.queryParameters.get(name) else { return nil }
        let decoded = raw.replacingOccurrences(of: "+", with: " ")
        return decoded.removingPercentEncoding ?? decoded
    }
}
