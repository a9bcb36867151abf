import Storage
import Foundation
import Hummingbird
import JobContract
import Logging
import QueueClient
import RedisClient

/// The operator's web dashboard over the same Redis as the workers: every page reads Redis
/// when it is asked for (nothing cached, so any number of dashboards agree), and every action
/// is one queue script (retry, delete, cancel, redeliver).
struct Dashboard: Sendable {
    let client: RedisClient
    let configuration: WorkerConfiguration
    let auth: DashboardAuth
    let storage: StorageRouter?
    let logger: Logger
    static let pageSize = 50

    /// The queue a request names (checked: `DashboardInput.queue`), else the first configured.
    func queue(_ name: String?) throws(DashboardInputError) -> JobQueue {
        JobQueue(name: try DashboardInput.queue(name) ?? configuration.queues[0], options: configuration.queueOptions,
                 client: client, actor: "dashboard")
    }

    var session: DashboardSession {
        let info = DashboardRequestInfo.current
        var loggedIn = false
        if case .session? = info?.credential { loggedIn = true }
        return DashboardSession(csrf: info?.csrf ?? "", readOnly: auth.readOnly, loggedIn: loggedIn)
    }

    var registry: WorkerRegistry { WorkerRegistry(prefix: configuration.queuePrefix, client: client) }

    /// The configured queues and every queue a live worker serves.
    func queueNames(workers: [WorkerRegistry.Entry]) -> [String] {
        var names = configuration.queues
        for entry in workers {
            for name in (entry.fields["queues"] ?? "").split(separator: ",").map(String.init)
            where !names.contains(name) && (try? DashboardInput.queue(name)) != nil {
                names.append(name)
            }
        }
        return names
    }

    func queuePicker(_ names: [String], selected: String, path: String, extra: String = "") -> String {
        guard names.count > 1 else { return "" }
        return "<p class=\"tabs\">Queue: " + names.map { name in
            "<a class=\"\(name == selected ? "on" : "")\" href=\"\(path)?queue=\(HTML.query(name))\(extra)\">\(HTML.escape(name))</a>"
        }.joined() + "</p>"
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: DashboardErrorMiddleware(logger: logger))
        router.add(middleware: DashboardAuthMiddleware(auth: auth))
        router.get("/") { _, _ in try await overview() }
        router.get("/jobs") { request, _ in try await jobs(request) }
        router.get("/job") { request, _ in try await job(request) }
        router.get("/poster") { request, _ in try await poster(request) }
        router.get("/dead") { request, _ in try await dead(request) }
        router.get("/workers") { _, _ in try await workers() }
        router.get("/events") { request, _ in try await events(request) }
        router.get("/api/events") { request, _ in try await eventsAfter(request) }
        router.get("/static/live.js") { _, _ in DashboardResponse.make(Array(Self.liveScript.utf8), contentType: "text/javascript") }
        router.get("/webhooks") { request, _ in try await webhooks(request) }
        router.get("/login") { request, _ in login(request, failed: false) }
        router.post("/login") { request, _ in try await logIn(request) }
        router.post("/logout") { request, _ in try await logOut(request) }
        router.post("/job/retry") { request, _ in try await act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return (try await queue.retryDead(id: id) ? "retried \(id)" : "\(id) is not dead (or its payload is invalid)", id)
        } }
        router.post("/job/delete") { request, _ in try await act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return (try await queue.deleteDead(id: id) ? "deleted \(id)" : "\(id) is not dead", nil)
        } }
        router.post("/job/cancel") { request, _ in try await act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return ("\(id): " + (try await queue.cancel(id: id)).rawValue.replacingOccurrences(of: "_", with: " "), id)
        } }
        router.post("/dead/retry-all") { request, _ in try await act(request) { queue, _ in
            var retried = 0
            for id in try await queue.deadJobIDs() where try await queue.retryDead(id: id) { retried += 1 }
            return ("retried \(retried) dead jobs", nil)
        } }
        router.post("/dead/delete-all") { request, _ in try await act(request) { queue, _ in
            ("deleted \(try await queue.purgeDead()) dead jobs", nil)
        } }
        router.post("/webhooks/redeliver") { request, _ in try await webhookAction(request, redeliver: true) }
        router.post("/webhooks/enable") { request, _ in try await webhookAction(request, redeliver: false) }
        return router
    }

    /// Runs one action from a form and goes back to the page it came from (the job's page, else
    /// the dead letters) with what happened.
    func act(_ request: Request, _ body: (JobQueue, DashboardForm) async throws -> (String, String?)) async throws -> Response {
        guard let form = try await DashboardForm.read(request, auth: auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        let queue = try queue(form["queue"])
        let (message, jobID) = try await body(queue, form)
        logger.notice("dashboard action", metadata: ["path": "\(request.uri.path)", "queue": "\(queue.name)", "result": "\(message)"])
        let back = jobID.map { "/job?queue=\(HTML.query(queue.name))&id=\(HTML.query($0))" } ?? "/dead?queue=\(HTML.query(queue.name))"
        return DashboardResponse.seeOther(back + "&done=" + HTML.query(message))
    }

    // MARK: login

    func login(_ request: Request, failed: Bool, next: String? = nil) -> Response {
        let next = Self.safeNext(next ?? request.query("next"))
        let body = """
        <h1>Log in</h1>\(failed ? "<div class=\"alert\">Wrong token.</div>" : "")
        <form method="post" action="/login"><input type="hidden" name="csrf" value="\(HTML.escape(session.csrf))">
        <input type="hidden" name="next" value="\(HTML.escape(next))">
        <label>Token <input type="password" name="token" id="token" autofocus></label> <button type="submit" id="login">Log in</button></form>
        """
        return DashboardResponse.html(HTML.page(title: "Log in", active: "", session: DashboardSession(csrf: session.csrf, readOnly: true), body: body),
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
        guard let form = try await DashboardForm.read(request, auth: auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        guard let token = auth.token, let digest = auth.tokenDigest, let sessions = auth.sessions,
              let given = form["token"], DashboardAuth.equal(given, token) else {
            if auth.token != nil { logger.notice("dashboard login refused", metadata: ["path": "/login"]) }
            return login(request, failed: true, next: form["next"])
        }
        let id = try await sessions.create(tokenDigest: digest, lifetime: auth.sessionLifetime)
        var response = DashboardResponse.seeOther(Self.safeNext(form["next"]))
        response.setCookie(Cookie(name: DashboardAuth.sessionCookie, value: id, maxAge: Int(auth.sessionLifetime.components.seconds), path: "/",
                                  secure: DashboardRequestInfo.current?.secure ?? false, httpOnly: true, sameSite: .strict))
        return response
    }

    /// Ends the session (in Redis: on every replica) and clears its cookie.
    func logOut(_ request: Request) async throws -> Response {
        guard try await DashboardForm.read(request, auth: auth) != nil else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        if case .session(let id)? = DashboardRequestInfo.current?.credential { try await auth.sessions?.end(id: id) }
        var response = DashboardResponse.seeOther(auth.token == nil ? "/" : "/login")
        response.setCookie(Cookie(name: DashboardAuth.sessionCookie, value: "", maxAge: 0, path: "/",
                                  secure: DashboardRequestInfo.current?.secure ?? false, httpOnly: true, sameSite: .strict))
        return response
    }
}
