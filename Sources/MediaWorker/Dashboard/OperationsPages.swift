import Foundation
import Hummingbird
import JobContract
import QueueClient

extension Dashboard {
    /// Dead letters with retry and delete, one or all.
    func dead(_ request: Request) async throws -> Response {
        let workers = try await registry.list()
        let queue = try queue(request.query("queue"))
        let page = try DashboardInput.page(request.query("page"))
        let (total, ids) = try await queue.page(.dead, offset: (page - 1) * Self.pageSize, limit: Self.pageSize)
        var body = "<h1>Dead letters</h1>" + queuePicker(queueNames(workers: workers), selected: queue.name, path: "/dead")
        body += "<p id=\"total\">\(total) dead jobs in \(HTML.escape(queue.name)). "
        if total > 0 {
            body += HTML.action("/dead/retry-all", label: "Retry all", fields: ["queue": queue.name], session: session) + " "
            body += HTML.action("/dead/delete-all", label: "Delete all", fields: ["queue": queue.name], session: session, confirm: true)
        }
        body += "</p>" + jobTable(try await queue.summaries(ids), queue: queue.name, actions: true)
        let pages = max(1, (total + Self.pageSize - 1) / Self.pageSize)
        if pages > 1 {
            let q = HTML.query(queue.name)
            body += "<p>Page \(page) of \(pages) " + (page > 1 ? "<a href=\"/dead?queue=\(q)&page=\(page - 1)\">« previous</a> " : "")
                + (page < pages ? "<a href=\"/dead?queue=\(q)&page=\(page + 1)\">next »</a>" : "") + "</p>"
        }
        return DashboardResponse.html(HTML.page(title: "Dead letters", active: "Dead letters", session: session, notice: request.query("done"), body: body))
    }

    /// Live workers with their running jobs and each job's progress. Running jobs come from each
    /// queue's active set (who holds each lease), so they are current to the second.
    func workers() async throws -> Response {
        let workers = try await registry.list()
        var running: [String: [(queue: String, job: JobSummary)]] = [:]
        for name in queueNames(workers: workers) {
            let queue = try queue(name)
            for job in try await queue.summaries(try await queue.page(.active, offset: 0, limit: 1000).ids) {
                running[job.fields["worker"] ?? "", default: []].append((name, job))
            }
        }
        let now = Date().timeIntervalSince1970 * 1000
        var body = "<h1>Workers (\(workers.count))</h1><table class=\"workers\"><tr><th>worker</th><th>host</th><th>version</th><th>queues</th><th>running</th><th>heartbeat</th><th>jobs</th></tr>"
        for entry in workers.sorted(by: { $0.id < $1.id }) {
            let f = entry.fields
            var jobs = ""
            for (name, job) in running[entry.id] ?? [] {
                let percent = (job.fields["progress"].flatMap { try? JSONValue.parse($0) })?["percent"]?.numberValue ?? 0
                jobs += "<div class=\"running\" data-job=\"\(HTML.escape(job.id))\"><a href=\"/job?queue=\(HTML.query(name))&id=\(HTML.query(job.id))\">\(HTML.escape(job.id))</a> \(HTML.escape(job.fields["type"] ?? "")) "
                jobs += "<span class=\"bar\"><span style=\"width:\(Int(min(100, max(0, percent))))%\"></span></span> <span class=\"percent\">\(String(format: "%.0f", percent))</span> %</div>"
            }
            let age = (Double(f["heartbeat_at"] ?? "") ?? now).distance(to: now) / 1000
            body += "<tr data-worker=\"\(HTML.escape(entry.id))\"><td>\(HTML.escape(entry.id))\(f["draining"] == "1" ? " (draining)" : "")</td><td>\(HTML.escape(f["host"] ?? ""))</td>"
            body += "<td>\(HTML.escape(f["version"] ?? ""))</td><td>\(HTML.escape(f["queues"] ?? ""))</td><td>\((running[entry.id] ?? []).count)/\(HTML.escape(f["concurrency"] ?? ""))</td>"
            body += "<td>\(String(format: "%.1f", age)) s ago</td><td>\(jobs)</td></tr>"
        }
        body += "</table>"
        return DashboardResponse.html(HTML.page(title: "Workers", active: "Workers", session: session, body: body))
    }

    /// The newest events, then new ones as they come (a little script polls `/api/events`).
    func events(_ request: Request) async throws -> Response {
        let workers = try await registry.list()
        let queue = try queue(request.query("queue"))
        let latest = try await queue.latestEvents(count: 50)
        var body = "<h1>Live events</h1>" + queuePicker(queueNames(workers: workers), selected: queue.name, path: "/events")
        body += "<p>Newest last; new events appear as they are appended.</p>"
        body += "<table id=\"live\" data-queue=\"\(HTML.escape(queue.name))\" data-after=\"\(HTML.escape(latest.last?.streamID ?? "0"))\"><tr><th>stream id</th><th>type</th><th>job</th><th>at</th><th>data</th></tr>"
        for event in latest {
            let value = try? JSONValue.parse(event.json)
            body += "<tr><td>\(HTML.escape(event.streamID))</td><td>\(HTML.escape(value?["type"]?.stringValue ?? ""))</td><td>\(HTML.escape(value?["job_id"]?.stringValue ?? ""))</td>"
            body += "<td>\(HTML.escape(value?["occurred_at"]?.stringValue ?? ""))</td><td><code>\(HTML.escape(value?["data"]?.jsonText ?? ""))</code></td></tr>"
        }
        body += "</table><script src=\"/static/live.js\"></script>"
        return DashboardResponse.html(HTML.page(title: "Live events", active: "Live events", session: session, body: body))
    }

    /// `[{"id":…,"event":{…}}]` after a stream id, for the live tail.
    func eventsAfter(_ request: Request) async throws -> Response {
        let queue = try queue(request.query("queue"))
        let after = try DashboardInput.streamID(request.query("after") ?? "0", name: "after")
        let events = try await queue.events(after: after, count: 200)
        return DashboardResponse.json("[" + events.map { "{\"id\":\(JSONValue.string($0.streamID).jsonText),\"event\":\($0.json)}" }.joined(separator: ",") + "]")
    }

    static let liveScript = """
    (function () {
      var table = document.getElementById('live');
      if (!table) return;
      var after = table.dataset.after, queue = table.dataset.queue;
      function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); return td; }
      function poll() {
        fetch('/api/events?queue=' + encodeURIComponent(queue) + '&after=' + encodeURIComponent(after), {credentials: 'same-origin'})
          .then(function (r) { return r.json(); })
          .then(function (items) {
            items.forEach(function (item) {
              var e = item.event, row = document.createElement('tr');
              cell(row, item.id); cell(row, e.type); cell(row, e.job_id); cell(row, e.occurred_at);
              var code = document.createElement('code'); code.textContent = JSON.stringify(e.data);
              var td = document.createElement('td'); td.appendChild(code); row.appendChild(td);
              table.appendChild(row); after = item.id;
            });
          })
          .catch(function () {})
          .finally(function () { setTimeout(poll, 1000); });
      }
      setTimeout(poll, 1000);
    })();
    """

    /// Webhook endpoints: outcomes, the delivery log, redeliver and enable.
    func webhooks(_ request: Request) async throws -> Response {
        let workers = try await registry.list()
        let queue = try queue(request.query("queue"))
        var body = "<h1>Webhooks</h1>" + queuePicker(queueNames(workers: workers), selected: queue.name, path: "/webhooks")
        let endpoints = try await WebhookLedger.endpoints(of: queue)
        if endpoints.isEmpty { body += "<p>No webhook endpoint has delivered on this queue (workers read MW_WEBHOOK_URLS).</p>" }
        for (endpoint, url) in endpoints.sorted(by: { $0.value < $1.value }) {
            let ledger = WebhookLedger(queue: queue, endpoint: endpoint)
            let summary = try await ledger.summary()
            body += "<section class=\"webhook\" data-endpoint=\"\(HTML.escape(endpoint))\"><h2>\(HTML.escape(url))</h2>"
            if let disabled = try await ledger.isDisabled() {
                body += "<div class=\"alert\">Disabled: \(HTML.escape(disabled)). Its events wait until it is enabled. "
                body += HTML.action("/webhooks/enable", label: "Enable", fields: ["queue": queue.name, "endpoint": endpoint], session: session) + "</div>"
            }
            body += "<p>" + WebhookOutcome.allCases.map { "\($0.rawValue): \(summary.outcomes[$0.rawValue] ?? 0)" }.joined(separator: " · ")
            body += " · waiting: \(summary.retrying) · in flight: \(summary.inFlight) · read, not yet accepted: \(summary.unaccepted)</p>"
            body += "<table class=\"deliveries\"><tr><th>at</th><th>event</th><th>type</th><th>attempt</th><th>outcome</th><th>status</th><th>latency</th><th>error</th><th></th></tr>"
            for line in try await ledger.log(count: 100) {
                let f = line.fields
                body += "<tr><td>\(HTML.escape(f["at"] ?? ""))</td><td>\(HTML.escape(f["event_id"] ?? ""))</td><td>\(HTML.escape(f["event_type"] ?? ""))</td>"
                body += "<td>\(HTML.escape(f["attempt"] ?? ""))</td><td class=\"outcome\">\(HTML.escape(f["outcome"] ?? ""))</td><td>\(HTML.escape(f["status"] == "0" ? "" : f["status"] ?? ""))</td>"
                body += "<td>\(HTML.escape(f["latency_ms"] ?? "")) ms</td><td>\(HTML.escape(f["error"] ?? ""))</td><td>"
                body += HTML.action("/webhooks/redeliver", label: "Redeliver",
                                    fields: ["queue": queue.name, "endpoint": endpoint, "stream_id": f["stream_id"] ?? "", "log_id": line.logID], session: session)
                body += "</td></tr>"
            }
            body += "</table></section>"
        }
        return DashboardResponse.html(HTML.page(title: "Webhooks", active: "Webhooks", session: session, notice: request.query("done"), body: body))
    }

    func webhookAction(_ request: Request, redeliver: Bool) async throws -> Response {
        guard let form = try await DashboardForm.read(request, auth: auth) else {
            return DashboardResponse.text("missing or wrong CSRF token: reload the page and try again", status: .forbidden)
        }
        let queue = try queue(form["queue"])
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
        logger.notice("dashboard action", metadata: ["path": "\(request.uri.path)", "queue": "\(queue.name)", "result": "\(message)"])
        return DashboardResponse.seeOther("/webhooks?queue=\(HTML.query(queue.name))&done=\(HTML.query(message))")
    }
}
