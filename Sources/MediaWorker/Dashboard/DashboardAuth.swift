import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// What a page needs to know about the request it answers: the CSRF value its forms carry and
/// whether actions are shown at all.
struct DashboardSession: Sendable {
    var csrf: String
    var readOnly: Bool
}

/// Who may see the dashboard and act through it.
/// - A token (`MW_DASHBOARD_TOKEN`, required off loopback): `Authorization: Bearer <token>`, or
///   the session cookie the login form sets (an HMAC of the token, so it is worthless elsewhere
///   and every dashboard replica with the same token accepts it).
/// - CSRF: forms carry the value of a random `mw_csrf` cookie (double submit, SameSite=Strict),
///   and a POST whose `Origin` is another host is refused. Bearer requests carry no cookie and
///   need neither.
/// - Read-only: every POST but the login is refused.
struct DashboardAuth: Sendable {
    let token: String?
    let readOnly: Bool

    static let sessionCookie = "mw_session"
    static let csrfCookie = "mw_csrf"

    var sessionValue: String? {
        guard let token else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("mw-dashboard-session".utf8), using: SymmetricKey(data: Array(token.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func bearer(of request: Request) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7))
    }

    func isAuthenticated(_ request: Request) -> Bool {
        guard let token, let expected = sessionValue else { return true }
        if let bearer = bearer(of: request), Self.equal(bearer, token) { return true }
        if let cookie = request.cookies[Self.sessionCookie]?.value, Self.equal(cookie, expected) { return true }
        return false
    }

    static func newCSRFValue() -> String {
        (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

/// Applies `DashboardAuth` to every route but the login page.
struct DashboardAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let auth: DashboardAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let isLogin = path == "/login"
        if !isLogin && !auth.isAuthenticated(request) {
            if request.method == .get && auth.bearer(of: request) == nil {
                return .redirect(to: "/login?next=" + HTML.query(request.uri.description), type: .found)
            }
            return DashboardResponse.text("authentication required: log in, or send Authorization: Bearer <MW_DASHBOARD_TOKEN>", status: .unauthorized)
        }
        if request.method == .post {
            if auth.readOnly && !isLogin {
                return DashboardResponse.text("this dashboard is read-only", status: .forbidden)
            }
            if let origin = request.headers[.origin], let host = request.head.authority,
               URL(string: origin)?.host.map({ host == $0 || host.hasPrefix($0 + ":") }) != true {
                return DashboardResponse.text("cross-site request refused", status: .forbidden)
            }
        }
        let existing = request.cookies[DashboardAuth.csrfCookie]?.value
        let csrf = existing ?? DashboardAuth.newCSRFValue()
        var response = try await DashboardCSRF.$current.withValue(csrf) { try await next(request, context) }
        if existing == nil {
            response.setCookie(Cookie(name: DashboardAuth.csrfCookie, value: csrf, path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }
}

/// The request's CSRF value, for the forms its page renders (set by the middleware for the task
/// that answers the request: the cookie's value, or the new one it sets with the answer).
enum DashboardCSRF {
    @TaskLocal static var current: String?
}
