import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import QueueClient
import RedisClient

/// What a page needs to know about the request it answers: the CSRF value its forms carry,
/// whether actions are shown at all, and whether there is a session to log out of.
struct DashboardSession: Sendable {
    var csrf: String
    var readOnly: Bool
    var loggedIn: Bool = false
}

/// How a request proved who sent it.
enum DashboardCredential: Sendable {
    /// No token is configured (loopback only): nothing to prove.
    case open
    /// `Authorization: Bearer <token>`: a script, which carries no cookie and needs no CSRF value.
    case bearer
    /// The session cookie the login form set: a browser, whose forms must carry the CSRF value.
    case session(id: String)
    case none
}

/// Who may see the dashboard and act through it.
/// - Host: without a token, only loopback names (`localhost`, `127.x.x.x`, `[::1]`) are
///   answered, so a page on another site cannot reach it by DNS rebinding; with
///   `MW_DASHBOARD_ALLOWED_HOSTS`, those names too (and only them, with a token).
/// - A token (`MW_DASHBOARD_TOKEN`, required off loopback): `Authorization: Bearer <token>`, or
///   a session: the login form makes a random session id, kept in Redis for
///   `MW_DASHBOARD_SESSION_S` (so every dashboard replica accepts it and a logout ends it
///   everywhere), bound to the token (changing the token ends every session).
/// - CSRF: forms carry the value of a random `mw_csrf` cookie (double submit, SameSite=Strict),
///   and a POST whose `Origin` is not this dashboard's own is refused. Only a request the bearer
///   token itself authenticated skips the CSRF value.
/// - Read-only: every POST but login and logout is refused.
struct DashboardAuth: Sendable {
    let token: String?
    let readOnly: Bool
    var sessionLifetime: Duration = .seconds(12 * 3600)
    /// Extra host names the dashboard answers to (`MW_DASHBOARD_ALLOWED_HOSTS`), lowercased.
    var allowedHosts: [String] = []
    /// Served over TLS: cookies are `Secure`, and a same-origin POST comes from `https://`.
    var tls = false
    var sessions: DashboardSessions?

    static let sessionCookie = "mw_session"
    static let csrfCookie = "mw_csrf"

    /// What a session record holds: a digest of the token it was made with.
    var tokenDigest: String? {
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

    func credential(of request: Request) async throws -> DashboardCredential {
        guard let token, let digest = tokenDigest else { return .open }
        if let bearer = bearer(of: request), Self.equal(bearer, token) { return .bearer }
        if let id = request.cookies[Self.sessionCookie]?.value, let sessions, try await sessions.isValid(id: id, tokenDigest: digest) {
            return .session(id: id)
        }
        return .none
    }

    /// Whether the request names this dashboard by a name it answers to.
    func allowsHost(_ authority: String?) -> Bool {
        guard let authority, let host = Self.hostName(of: authority) else { return false }
        if Self.isLoopbackName(host) || allowedHosts.contains(host) { return true }
        return token != nil && allowedHosts.isEmpty
    }

    /// The host of `host[:port]` or `[v6]:port`, lowercased; nil when malformed.
    static func hostName(of authority: String) -> String? {
        var host = Substring(authority.lowercased())
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let port, port.isEmpty || port.count > 5 || !port.allSatisfy(\.isASCII) || UInt16(port) == nil { return nil }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:".contains($0)) }) else { return nil }
        return String(host)
    }

    static func isLoopbackName(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Whether an `Origin` is this dashboard as the request reached it.
    func isSameOrigin(_ origin: String, authority: String, forwardedProto: String?) -> Bool {
        let scheme = tls || forwardedProto?.lowercased() == "https" ? "https" : "http"
        return origin.lowercased() == scheme + "://" + authority.lowercased()
    }

    static func newRandomValue() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Whether cookies set in answer to this request are `Secure`.
    func secureCookies(_ request: Request) -> Bool {
        tls || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }
}

/// Login sessions, in Redis: `<prefix>:dashboard:session:<SHA-256 of the id>` holds the token's
/// digest and expires with the session.
struct DashboardSessions: Sendable {
    let client: RedisClient
    let prefix: String

    func key(_ id: String) -> String {
        prefix + ":dashboard:session:" + SHA256.hash(data: Array(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func create(tokenDigest: String, lifetime: Duration) async throws -> String {
        let id = DashboardAuth.newRandomValue()
        try await client.command(["SET", key(id), tokenDigest, "PX", String(lifetime.milliseconds)])
        return id
    }

    func isValid(id: String, tokenDigest: String) async throws -> Bool {
        guard id.utf8.count == 64, id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return false }
        guard let held = try await client.command(["GET", key(id)]).string else { return false }
        return DashboardAuth.equal(held, tokenDigest)
    }

    func end(id: String) async throws {
        try await client.command(["DEL", key(id)])
    }
}

/// Applies `DashboardAuth` to every route: the host first, then the credential (every route but
/// the login page), then the POST rules; sets the request's CSRF value for its forms.
struct DashboardAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let auth: DashboardAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Two Host headers: which one a proxy or a browser meant is anyone's guess (RFC 9112 §3.2).
        if request.headers[HTTPField.Name("Host")!] != nil {
            return DashboardResponse.text("more than one Host header", status: .badRequest)
        }
        guard auth.allowsHost(request.head.authority) else {
            return DashboardResponse.text("unknown host: this dashboard answers to loopback names"
                + (auth.allowedHosts.isEmpty ? "" : " and MW_DASHBOARD_ALLOWED_HOSTS") + " only", status: .misdirectedRequest)
        }
        let path = request.uri.path
        let isLogin = path == "/login"
        let credential = try await auth.credential(of: request)
        if case .none = credential, !isLogin {
            if request.method == .get && auth.bearer(of: request) == nil {
                return .redirect(to: "/login?next=" + DashboardFormat.query(String(request.uri.description.prefix(2048))), type: .found)
            }
            return DashboardResponse.text("authentication required: log in, or send Authorization: Bearer <MW_DASHBOARD_TOKEN>", status: .unauthorized)
        }
        if request.method == .post {
            if auth.readOnly && !isLogin && path != "/logout" {
                return DashboardResponse.text("this dashboard is read-only", status: .forbidden)
            }
            if let origin = request.headers[.origin], let authority = request.head.authority,
               !auth.isSameOrigin(origin, authority: authority, forwardedProto: request.headers[HTTPField.Name("X-Forwarded-Proto")!]) {
                return DashboardResponse.text("cross-site request refused", status: .forbidden)
            }
        } else if request.method != .get && request.method != .head {
            return DashboardResponse.text("method not allowed", status: .methodNotAllowed)
        }
        // (Any value the browser holds will do for a double submit; only its shape is bounded.)
        let existing: String? = request.cookies[DashboardAuth.csrfCookie].map(\.value).flatMap { (value: String) -> String? in
            (1...128).contains(value.utf8.count) && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } ? value : nil
        }
        let csrf = existing ?? DashboardAuth.newRandomValue()
        let info = DashboardRequestInfo(csrf: csrf, credential: credential, secure: auth.secureCookies(request))
        var response = try await DashboardRequestInfo.$current.withValue(info) { try await next(request, context) }
        if existing == nil {
            response.setCookie(Cookie(name: DashboardAuth.csrfCookie, value: csrf, path: "/", secure: info.secure, httpOnly: true, sameSite: .strict))
        }
        return response
    }
}

/// The request being answered, for the pages and forms (set by the middleware for the task
/// that answers it): its CSRF value, how it authenticated, whether its cookies are `Secure`.
struct DashboardRequestInfo: Sendable {
    var csrf: String
    var credential: DashboardCredential
    var secure: Bool

    @TaskLocal static var current: DashboardRequestInfo?
}
