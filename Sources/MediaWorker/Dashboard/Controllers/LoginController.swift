import Hummingbird

/// `/login` and `/logout`: a session from the token, in a cookie; never an open redirect.
struct LoginController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/login") { request, _ in try login(request, failed: false) }
        router.post("/login") { request, _ in try await logIn(request) }
        router.post("/logout") { request, _ in try await logOut(request) }
    }


    func login(_ request: Request, failed: Bool, next: String? = nil) throws -> Response {
        let csrf = dashboard.session.csrf
        let context: [String: Any] = ["failed": failed, "csrf": csrf, "next": Self.safeNext(next ?? request.query("next"))]
        return DashboardResponse.html(try DashboardPages.page("login", context, title: "Log in", active: "",
                                                              session: DashboardSession(csrf: csrf, readOnly: true)),
                                      status: failed ? .unauthorized : .ok)
    }

    /// Only a path of this site, of bounded length: never an open redirect.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), next.utf8.count <= 2048,
              // (Browsers read a backslash as a slash: "/\\host" would leave the site.)
              !next.contains("\\"), !next.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return "/" }
        return next
    }

    func logIn(_ request: Request) async throws -> Response {
        guard let form = try await DashboardForm.read(request, auth: dashboard.auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        guard let token = dashboard.auth.token, let digest = dashboard.auth.tokenDigest, let sessions = dashboard.auth.sessions,
              let given = form["token"], DashboardAuth.equal(given, token) else {
            if dashboard.auth.token != nil { dashboard.logger.notice("dashboard login refused", metadata: ["path": "/login"]) }
            return try login(request, failed: true, next: form["next"])
        }
        let id = try await sessions.create(tokenDigest: digest, lifetime: dashboard.auth.sessionLifetime)
        var response = DashboardResponse.seeOther(Self.safeNext(form["next"]))
        response.setCookie(Cookie(name: DashboardAuth.sessionCookie, value: id, maxAge: Int(dashboard.auth.sessionLifetime.components.seconds), path: "/",
                                  secure: DashboardRequestInfo.current?.secure ?? false, httpOnly: true, sameSite: .strict))
        return response
    }

    /// Ends the session (in Redis: on every replica) and clears its cookie.
    func logOut(_ request: Request) async throws -> Response {
        guard try await DashboardForm.read(request, auth: dashboard.auth) != nil else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        if case .session(let id)? = DashboardRequestInfo.current?.credential { try await dashboard.auth.sessions?.end(id: id) }
        var response = DashboardResponse.seeOther(dashboard.auth.token == nil ? "/" : "/login")
        response.setCookie(Cookie(name: DashboardAuth.sessionCookie, value: "", maxAge: 0, path: "/",
                                  secure: DashboardRequestInfo.current?.secure ?? false, httpOnly: true, sameSite: .strict))
        return response
    }
}
