import Foundation
import Hummingbird
import JobContract
import Logging
import QueueClient
import RedisClient
import Storage

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

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: DashboardErrorMiddleware(logger: logger))
        router.add(middleware: DashboardAuthMiddleware(auth: auth))
        OverviewController(dashboard: self).addRoutes(to: router)
        JobsController(dashboard: self).addRoutes(to: router)
        DeadLettersController(dashboard: self).addRoutes(to: router)
        WorkersController(dashboard: self).addRoutes(to: router)
        EventsController(dashboard: self).addRoutes(to: router)
        WebhooksController(dashboard: self).addRoutes(to: router)
        LoginController(dashboard: self).addRoutes(to: router)
        // The stylesheet and the live tail's script (`Assets/`), embedded.
        for (name, contentType) in [("dashboard.css", "text/css; charset=utf-8"), ("live.js", "text/javascript")] {
            let body = Array((EmbeddedDashboard.assets[name] ?? "").utf8)
            router.get("/static/\(name)") { _, _ in DashboardResponse.make(body, contentType: contentType) }
        }
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
        let back = jobID.map { "/job?queue=\(DashboardFormat.query(queue.name))&id=\(DashboardFormat.query($0))" } ?? "/dead?queue=\(DashboardFormat.query(queue.name))"
        return DashboardResponse.seeOther(back + "&done=" + DashboardFormat.query(message))
    }

    /// The context of `job_table.mustache`: jobs as rows, with retry and delete on dead letters.
    func jobTable(_ rows: [JobSummary], queue: String, actions: Bool = false) -> [String: Any] {
        let session = session
        return ["actions": actions, "rows": rows.map { row -> [String: Any] in
            let f = row.fields
            var item: [String: Any] = [
                "id": row.id, "href": "/job?queue=\(DashboardFormat.query(queue))&id=\(DashboardFormat.query(row.id))",
                "type": f["type"] ?? "", "state": f["state"] ?? "", "fileID": f["file_id"] ?? "", "movie": f["meta_movie_id"] ?? f["movie_id"] ?? "",
                "attempts": f["attempts"] ?? "0", "maxAttempts": f["max_attempts"] ?? "", "created": DashboardFormat.time(f["created_at"]),
                "finished": DashboardFormat.time(f["finished_at"]), "errorCode": f["error_code"] ?? "", "hasActions": actions,
            ]
            if actions {
                item["rowActions"] = [
                    DashboardPages.action("/job/retry", label: "Retry", fields: ["queue": queue, "id": row.id], session: session),
                    DashboardPages.action("/job/delete", label: "Delete", fields: ["queue": queue, "id": row.id], session: session, confirm: true),
                ]
            }
            return item
        }]
    }

    /// Every string URL under `outputs` (and the stills) of a job's result, by name.
    static func outputURLs(in result: JSONValue) -> [(String, String)] {
        var found: [(String, String)] = []
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .string(let text) where text.contains("://"):
                found.append((path, text))
            case .object(let fields):
                // What the job made: not its input, not the renditions' playlists (the master names them).
                for key in fields.keys.sorted() where key != "renditions" && key != "input" {
                    walk(fields[key]!, key == "url" ? path : (path.isEmpty ? key : path + "." + key))
                }
            default:
                break
            }
        }
        walk(result, "")
        return found
    }
}
