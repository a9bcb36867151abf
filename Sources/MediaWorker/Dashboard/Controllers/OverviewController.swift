import Foundation
import Hummingbird
import QueueClient

/// `/`: per queue, counts by state, throughput and failures per minute for the last hour and
/// day, live workers, and an alert when work waits with no worker to take it.
struct OverviewController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in try await overview() }
    }

    func overview() async throws -> Response {
        let workers = try await dashboard.registry.list()
        let now = Int(Date().timeIntervalSince1970) / 60
        var queues: [[String: Any]] = []
        for name in dashboard.queueNames(workers: workers) {
            let queue = try dashboard.queue(name)
            let counts = try await queue.counts()
            let live = workers.filter { ($0.fields["queues"] ?? "").split(separator: ",").contains(Substring(name)) && $0.fields["draining"] != "1" }
            let history = try await queue.minuteCounts(from: now - 1439, to: now + 1)
            let cells: [(String, Int)] = [("inbox", counts.inbox), ("waiting", counts.waiting), ("scheduled", counts.scheduled),
                                          ("active", counts.active), ("completed", counts.completed), ("dead", counts.dead),
                                          ("canceled", counts.canceled)]
            func series(_ minutes: Range<Int>) -> [SVGChart.Series] {
                [SVGChart.Series(name: "completed", color: "#2a9d8f", values: minutes.map { history[$0]?["completed"] ?? 0 }),
                 SVGChart.Series(name: "failed", color: "#e63946", values: minutes.map { (history[$0]?["dead"] ?? 0) + (history[$0]?["retried"] ?? 0) }),
                 SVGChart.Series(name: "canceled", color: "#999999", values: minutes.map { history[$0]?["canceled"] ?? 0 })]
            }
            let lastHour = series((now - 59)..<(now + 1))
            let lastDay = series((now - 1439)..<(now + 1))
            var section: [String: Any] = [
                "name": name,
                "counts": cells.map { cell -> [String: Any] in
                    var item: [String: Any] = ["state": cell.0, "count": cell.1]
                    if cell.0 != "inbox" { item["href"] = "/jobs?queue=\(DashboardFormat.query(name))&state=\(cell.0)" }
                    return item
                },
                "liveWorkers": live.count,
                "hourCompleted": lastHour[0].values.reduce(0, +),
                "hourFailed": lastHour[1].values.reduce(0, +),
            ]
            if counts.waiting + counts.inbox > 0 && live.isEmpty { section["stranded"] = counts.waiting + counts.inbox }
            if let chart = SVGChart.bars(lastHour, title: "Jobs per minute, last hour", labels: ("-60 min", "now")) { section["hourChart"] = chart }
            if let chart = SVGChart.bars(lastDay, title: "Jobs per minute, last day", labels: ("-24 h", "now"), width: 900) { section["dayChart"] = chart }
            queues.append(section)
        }
        return DashboardResponse.html(try DashboardPages.page("overview", ["queues": queues], title: "Overview", active: "Overview",
                                                              session: dashboard.session))
    }
}
