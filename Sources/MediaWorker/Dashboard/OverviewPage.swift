import Foundation
import Hummingbird
import QueueClient

extension Dashboard {
    /// Per queue: counts by state, throughput and failures per minute for the last hour and
    /// day, live workers, and an alert when work waits with no worker to take it.
    func overview() async throws -> Response {
        let workers = try await registry.list()
        let now = Int(Date().timeIntervalSince1970) / 60
        var body = "<h1>Overview</h1>"
        for name in queueNames(workers: workers) {
            let queue = try queue(name)
            let counts = try await queue.counts()
            let live = workers.filter { ($0.fields["queues"] ?? "").split(separator: ",").contains(Substring(name)) && $0.fields["draining"] != "1" }
            let history = try await queue.minuteCounts(from: now - 1439, to: now + 1)
            body += "<section class=\"queue\" data-queue=\"\(HTML.escape(name))\"><h2>Queue \(HTML.escape(name))</h2>"
            if counts.waiting + counts.inbox > 0 && live.isEmpty {
                body += "<div class=\"alert\" id=\"no-worker-\(HTML.escape(name))\">\(counts.waiting + counts.inbox) jobs are waiting and no live worker serves this queue.</div>"
            }
            let cells: [(String, Int)] = [("inbox", counts.inbox), ("waiting", counts.waiting), ("scheduled", counts.scheduled),
                                          ("active", counts.active), ("completed", counts.completed), ("dead", counts.dead),
                                          ("canceled", counts.canceled)]
            body += "<table class=\"counts\"><tr>" + cells.map { "<th>\($0.0)</th>" }.joined() + "<th>live workers</th></tr><tr>"
            body += cells.map { cell in
                let link = cell.0 == "inbox" ? "\(cell.1)" : "<a href=\"/jobs?queue=\(HTML.query(name))&state=\(cell.0)\">\(cell.1)</a>"
                return "<td data-state=\"\(cell.0)\">\(link)</td>"
            }.joined()
            body += "<td data-state=\"workers\">\(live.count)</td></tr></table>"
            func series(_ minutes: Range<Int>) -> [SVGChart.Series] {
                [SVGChart.Series(name: "completed", color: "#2a9d8f", values: minutes.map { history[$0]?["completed"] ?? 0 }),
                 SVGChart.Series(name: "failed", color: "#e63946", values: minutes.map { (history[$0]?["dead"] ?? 0) + (history[$0]?["retried"] ?? 0) }),
                 SVGChart.Series(name: "canceled", color: "#999999", values: minutes.map { history[$0]?["canceled"] ?? 0 })]
            }
            let lastHour = series((now - 59)..<(now + 1))
            let lastDay = series((now - 1439)..<(now + 1))
            let hourTotal = lastHour[0].values.reduce(0, +), hourFailed = lastHour[1].values.reduce(0, +)
            body += "<p>Last hour: <span data-history=\"completed\">\(hourTotal)</span> completed, <span data-history=\"failed\">\(hourFailed)</span> failed attempts.</p>"
            body += SVGChart.bars(lastHour, title: "Jobs per minute, last hour", labels: ("-60 min", "now")) + " "
            body += SVGChart.bars(lastDay, title: "Jobs per minute, last day", labels: ("-24 h", "now"), width: 900)
            body += "</section>"
        }
        return DashboardResponse.html(HTML.page(title: "Overview", active: "Overview", session: session, body: body))
    }
}
