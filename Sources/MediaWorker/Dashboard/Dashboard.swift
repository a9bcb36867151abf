import Foundation
import Hummingbird
import JobContract
import Logging
import QueueClient

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

    func queue(_ name: String?) -> JobQueue {
        JobQueue(name: name.flatMap { $0.isEmpty ? nil : $0 } ?? configuration.queues[0], options: configuration.queueOptions,
                 client: client, actor: "dashboard")
    }

    var session: DashboardSession { DashboardSession(csrf: DashboardCSRF.current ?? "", readOnly: auth.readOnly) }

    var registry: WorkerRegistry { WorkerRegistry(prefix: configuration.queuePrefix, client: client) }

    /// The configured queues and every queue a live worker serves.
    func queueNames(workers: [WorkerRegistry.Entry]) -> [String] {
        var names = configuration.queues
        for entry in workers {
            for name in (entry.fields["queues"] ?? "").split(separator: ",").map(String.init) where !names.contains(name) {
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
        router.post("/job/retry") { request, _ in try await act(request) { queue, form in
            guard let id = form["id"] else { return ("no job id", nil) }
            return (try await queue.retryDead(id: id) ? "retried \(id)" : "\(id) is not dead (or its payload is invalid)", id)
        } }
        router.post("/job/delete") { request, _ in try await act(request) { queue, form in
            guard let id = form["id"] else { return ("no job id", nil) }
            return (try await queue.deleteDead(id: id) ? "deleted \(id)" : "\(id) is not dead", nil)
        } }
        router.post("/job/cancel") { request, _ in try await act(request) { queue, form in
            guard let id = form["id"] else { return ("no job id", nil) }
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
        let queue = queue(form["queue"])
        let (message, jobID) = try await body(queue, form)
        logger.notice("dashboard action", metadata: ["path": "\(request.uri.path)", "queue": "\(queue.name)", "result": "\(message)"])
        let back = jobID.map { "/job?queue=\(HTML.query(queue.name))&id=\(HTML.query($0))" } ?? "/dead?queue=\(HTML.query(queue.name))"
        return DashboardResponse.seeOther(back + "&done=" + HTML.query(message))
    }

    // MARK: login

    func login(_ request: Request, failed: Bool, next: String? = nil) -> Response {
        let next = next ?? request.query("next") ?? "/"
        let body = """
        <h1>Log in</h1>\(failed ? "<div class=\"alert\">Wrong token.</div>" : "")
        <form method="post" action="/login"><input type="hidden" name="csrf" value="\(HTML.escape(session.csrf))">
        <input type="hidden" name="next" value="\(HTML.escape(next))">
        <label>Token <input type="password" name="token" id="token" autofocus></label> <button type="submit" id="login">Log in</button></form>
        """
        return DashboardResponse.html(HTML.page(title: "Log in", active: "", session: DashboardSession(csrf: session.csrf, readOnly: true), body: body),
                                      status: failed ? .unauthorized : .ok)
    }

    func logIn(_ request: Request) async throws -> Response {
        guard let form = try await DashboardForm.read(request, auth: auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        guard let token = auth.token, let value = auth.sessionValue, let given = form["token"], DashboardAuth.equal(given, token) else {
            return login(request, failed: true, next: form["next"])
        }
        // Only a path of this site: never an open redirect.
        var next = form["next"] ?? "/"
        // (Browsers read a backslash as a slash: "/\\host" would leave the site.)
        if !next.hasPrefix("/") || next.hasPrefix("//") || next.contains("\\") { next = "/" }
        var response = DashboardResponse.seeOther(next)
        response.setCookie(Cookie(name: DashboardAuth.sessionCookie, value: value, maxAge: 7 * 86400, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }
}
