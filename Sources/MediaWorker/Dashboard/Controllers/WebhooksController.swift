import Hummingbird
import QueueClient

/// `/webhooks`: webhook endpoints, their outcomes and delivery log; redeliver and enable.
struct WebhooksController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/webhooks") { request, _ in try await webhooks(request) }
        router.post("/webhooks/redeliver") { request, _ in try await webhookAction(request, redeliver: true) }
        router.post("/webhooks/enable") { request, _ in try await webhookAction(request, redeliver: false) }
    }

    func webhooks(_ request: Request) async throws -> Response {
        let session = dashboard.session
        let workers = try await dashboard.registry.list()
        let queue = try dashboard.queue(request.query("queue"))
        var sections: [[String: Any]] = []
        for (endpoint, url) in try await WebhookLedger.endpoints(of: queue).sorted(by: { $0.value < $1.value }) {
            let ledger = WebhookLedger(queue: queue, endpoint: endpoint)
            let summary = try await ledger.summary()
            var section: [String: Any] = ["endpoint": endpoint, "url": url]
            if let disabled = try await ledger.isDisabled() {
                section["disabled"] = ["reason": disabled,
                                       "enable": DashboardPages.action("/webhooks/enable", label: "Enable", fields: ["queue": queue.name, "endpoint": endpoint],
                                                                       session: session)] as [String: Any]
            }
            section["summary"] = WebhookOutcome.allCases.map { "\($0.rawValue): \(summary.outcomes[$0.rawValue] ?? 0)" }.joined(separator: " · ")
                + " · waiting: \(summary.retrying) · in flight: \(summary.inFlight) · read, not yet accepted: \(summary.unaccepted)"
            section["log"] = try await ledger.log(count: 100).map { line -> [String: Any] in
                let f = line.fields
                return ["at": f["at"] ?? "", "eventID": f["event_id"] ?? "", "eventType": f["event_type"] ?? "", "attempt": f["attempt"] ?? "",
                        "outcome": f["outcome"] ?? "", "status": f["status"] == "0" ? "" : f["status"] ?? "", "latency": f["latency_ms"] ?? "",
                        "error": f["error"] ?? "",
                        "redeliver": DashboardPages.action("/webhooks/redeliver", label: "Redeliver",
                                                           fields: ["queue": queue.name, "endpoint": endpoint, "stream_id": f["stream_id"] ?? "",
                                                                    "log_id": line.logID], session: session)]
            }
            sections.append(section)
        }
        var context: [String: Any] = ["endpoints": sections]
        if let picker = DashboardPages.queuePicker(dashboard.queueNames(workers: workers), selected: queue.name, path: "/webhooks") {
            context["queuePicker"] = picker
        }
        return DashboardResponse.html(try DashboardPages.page("webhooks", context, title: "Webhooks", active: "Webhooks", session: session,
                                                              notice: request.query("done")))
    }

    func webhookAction(_ request: Request, redeliver: Bool) async throws -> Response {
        guard let form = try await DashboardForm.read(request, auth: dashboard.auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        let queue = try dashboard.queue(form["queue"])
        let endpoint = try DashboardInput.endpoint(form["endpoint"])
        let ledger = WebhookLedger(queue: queue, endpoint: endpoint)
        let message: String
        if redeliver {
            let streamID = try DashboardInput.streamID(form["stream_id"])
            let logID = try form["log_id"].map { try DashboardInput.streamID($0, name: "log_id") } ?? ""
            if let number = try await ledger.redeliver(streamID: streamID, logID: logID) {
                message = "event \(streamID) will be delivered again (redelivery \(number))"
            } else {
                message = "no copy of event \(streamID) is left"
            }
        } else {
            try await ledger.enable()
            message = "endpoint enabled"
        }
        dashboard.logger.notice("dashboard action", metadata: ["path": "\(request.uri.path)", "queue": "\(queue.name)", "result": "\(message)"])
        return DashboardResponse.seeOther("/webhooks?queue=\(DashboardFormat.query(queue.name))&done=\(DashboardFormat.query(message))")
    }
}
