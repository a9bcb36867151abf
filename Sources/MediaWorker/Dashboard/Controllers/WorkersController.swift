import Foundation
import Hummingbird
import JobContract
import QueueClient

/// `/workers`: live workers with their running jobs and each job's progress. Running jobs come
/// from each queue's active set (who holds each lease), so they are current to the second.
struct WorkersController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/workers") { _, _ in try await workers() }
    }

    func workers() async throws -> Response {
        let workers = try await dashboard.registry.list()
        var running: [String: [(queue: String, job: JobSummary)]] = [:]
        for name in dashboard.queueNames(workers: workers) {
            let queue = try dashboard.queue(name)
            for job in try await queue.summaries(try await queue.page(.active, offset: 0, limit: 1000).ids) {
                running[job.fields["worker"] ?? "", default: []].append((name, job))
            }
        }
        let now = Date().timeIntervalSince1970 * 1000
        let rows = workers.sorted(by: { $0.id < $1.id }).map { entry -> [String: Any] in
            let f = entry.fields
            let jobs = (running[entry.id] ?? []).map { name, job -> [String: Any] in
                let percent = (job.fields["progress"].flatMap { try? JSONValue.parse($0) })?["percent"]?.numberValue ?? 0
                return ["id": job.id, "href": "/job?queue=\(DashboardFormat.query(name))&id=\(DashboardFormat.query(job.id))",
                        "type": job.fields["type"] ?? "", "width": Int(min(100, max(0, percent))), "percent": String(format: "%.0f", percent)]
            }
            let age = (Double(f["heartbeat_at"] ?? "") ?? now).distance(to: now) / 1000
            return ["id": entry.id, "draining": f["draining"] == "1", "host": f["host"] ?? "", "version": f["version"] ?? "",
                    "queues": f["queues"] ?? "", "running": jobs.count, "concurrency": f["concurrency"] ?? "",
                    "age": String(format: "%.1f", age), "jobs": jobs]
        }
        return DashboardResponse.html(try DashboardPages.page("workers", ["count": workers.count, "workers": rows], title: "Workers",
                                                              active: "Workers", session: dashboard.session))
    }
}
