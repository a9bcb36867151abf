import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

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

    /// Reads the body (64 KiB at most); unless the bearer token itself authenticated the request,
    /// the form must carry the CSRF cookie's value.
    static func read(_ request: Request, auth: DashboardAuth) async throws -> DashboardForm? {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 64 * 1024)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "a form is at most 64 KiB")
        } catch {
            // A body cut short or badly chunked: the client's fault.
            throw DashboardInputError(description: "the form could not be read (\(error))")
        }
        let fields = parse(String(buffer: buffer))
        let info = DashboardRequestInfo.current
        if case .bearer? = info?.credential {
            return DashboardForm(fields: fields)
        }
        guard let cookie = info?.csrf, let sent = fields["csrf"], request.cookies[DashboardAuth.csrfCookie]?.value == cookie,
              DashboardAuth.equal(cookie, sent) else { return nil }
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
