import Hummingbird
import QueueClient

/// `/dead`: dead letters with retry and delete, one (`JobsController`) or all.
struct DeadLettersController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/dead") { request, _ in try await dead(request) }
        router.post("/dead/retry-all") { request, _ in try await dashboard.act(request) { queue, _ in
            var retried = 0
            for id in try await queue.deadJobIDs() where try await queue.retryDead(id: id) { retried += 1 }
            return ("retried \(retried) dead jobs", nil)
        } }
        router.post("/dead/delete-all") { request, _ in try await dashboard.act(request) { queue, _ in
            ("deleted \(try await queue.purgeDead()) dead jobs", nil)
        } }
    }

    func dead(_ request: Request) async throws -> Response {
        let session = dashboard.session
        let workers = try await dashboard.registry.list()
        let queue = try dashboard.queue(request.query("queue"))
        let page = try DashboardInput.page(request.query("page"))
        let (total, ids) = try await queue.page(.dead, offset: (page - 1) * Dashboard.pageSize, limit: Dashboard.pageSize)
        var context: [String: Any] = [
            "queue": queue.name, "total": total,
            "jobTable": dashboard.jobTable(try await queue.summaries(ids), queue: queue.name, actions: true),
        ]
        if let picker = DashboardPages.queuePicker(dashboard.queueNames(workers: workers), selected: queue.name, path: "/dead") {
            context["queuePicker"] = picker
        }
        if total > 0 {
            context["bulk"] = [
                "retryAll": DashboardPages.action("/dead/retry-all", label: "Retry all", fields: ["queue": queue.name], session: session),
                "deleteAll": DashboardPages.action("/dead/delete-all", label: "Delete all", fields: ["queue": queue.name], session: session, confirm: true),
            ]
        }
        let pages = max(1, (total + Dashboard.pageSize - 1) / Dashboard.pageSize)
        if pages > 1 {
            let base = "/dead?queue=\(DashboardFormat.query(queue.name))&page="
            var pager: [String: Any] = ["page": page, "pages": pages]
            if page > 1 { pager["previous"] = base + "\(page - 1)" }
            if page < pages { pager["next"] = base + "\(page + 1)" }
            context["pager"] = pager
        }
        return DashboardResponse.html(try DashboardPages.page("dead", context, title: "Dead letters", active: "Dead letters", session: session,
                                                              notice: request.query("done")))
    }
}
