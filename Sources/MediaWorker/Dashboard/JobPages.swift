import Storage
import Foundation
import Hummingbird
import JobContract
import QueueClient

extension Dashboard {
    /// Jobs by state, a page at a time, or the jobs a search finds (job id, file_id, movie id).
    func jobs(_ request: Request) async throws -> Response {
        let workers = try await registry.list()
        let queue = try queue(request.query("queue"))
        let state = try DashboardInput.state(request.query("state"))
        let term = try DashboardInput.term(request.query("q") ?? "")
        let page = try DashboardInput.page(request.query("page"))
        let ids: [String]
        let total: Int
        if term.isEmpty {
            (total, ids) = try await queue.page(state, offset: (page - 1) * Self.pageSize, limit: Self.pageSize)
        } else {
            ids = try await queue.search(term)
            total = ids.count
        }
        let rows = try await queue.summaries(ids)
        let q = HTML.query(queue.name)
        var body = "<h1>Jobs</h1>" + queuePicker(queueNames(workers: workers), selected: queue.name, path: "/jobs")
        body += """
        <form method="get" action="/jobs"><input type="hidden" name="queue" value="\(HTML.escape(queue.name))">
        <input type="search" name="q" id="search" value="\(HTML.escape(term))" placeholder="job id, file_id or movie id" size="40">
        <button type="submit" id="search-button">Search</button></form>
        """
        body += "<p class=\"tabs\">" + BrowsableState.allCases.map { item in
            "<a class=\"\(term.isEmpty && item == state ? "on" : "")\" href=\"/jobs?queue=\(q)&state=\(item.rawValue)\">\(item.rawValue)</a>"
        }.joined() + "</p>"
        body += term.isEmpty ? "<p id=\"total\">\(total) \(state.rawValue)</p>" : "<p id=\"total\">\(total) found for “\(HTML.escape(term))”</p>"
        body += jobTable(rows, queue: queue.name)
        if term.isEmpty {
            let pages = max(1, (total + Self.pageSize - 1) / Self.pageSize)
            body += "<p class=\"pager\">Page \(page) of \(pages) "
            if page > 1 { body += "<a id=\"prev\" href=\"/jobs?queue=\(q)&state=\(state.rawValue)&page=\(page - 1)\">« previous</a> " }
            if page < pages { body += "<a id=\"next\" href=\"/jobs?queue=\(q)&state=\(state.rawValue)&page=\(page + 1)\">next »</a> " }
            if pages > 2 { body += "<a href=\"/jobs?queue=\(q)&state=\(state.rawValue)&page=\(pages)\">last</a>" }
            body += "</p>"
        }
        return DashboardResponse.html(HTML.page(title: "Jobs", active: "Jobs", session: session, body: body))
    }

    func jobTable(_ rows: [JobSummary], queue: String, actions: Bool = false) -> String {
        var table = "<table class=\"jobs\"><tr><th>id</th><th>type</th><th>state</th><th>file_id</th><th>movie</th><th>attempts</th><th>created</th><th>finished</th><th>error</th>\(actions ? "<th></th>" : "")</tr>"
        for row in rows {
            let f = row.fields
            table += "<tr data-job=\"\(HTML.escape(row.id))\"><td><a href=\"/job?queue=\(HTML.query(queue))&id=\(HTML.query(row.id))\">\(HTML.escape(row.id))</a></td>"
            table += "<td>\(HTML.escape(f["type"] ?? ""))</td><td>\(HTML.escape(f["state"] ?? ""))</td><td>\(HTML.escape(f["file_id"] ?? ""))</td>"
            table += "<td>\(HTML.escape(f["meta_movie_id"] ?? f["movie_id"] ?? ""))</td><td>\(HTML.escape(f["attempts"] ?? "0"))/\(HTML.escape(f["max_attempts"] ?? ""))</td>"
            table += "<td>\(HTML.time(f["created_at"]))</td><td>\(HTML.time(f["finished_at"]))</td><td>\(HTML.escape(f["error_code"] ?? ""))</td>"
            if actions {
                table += "<td>" + HTML.action("/job/retry", label: "Retry", fields: ["queue": queue, "id": row.id], session: session)
                table += HTML.action("/job/delete", label: "Delete", fields: ["queue": queue, "id": row.id], session: session, confirm: true) + "</td>"
            }
            table += "</tr>"
        }
        return table + "</table>"
    }

    /// One job: what was asked (payload), what happened (attempts, history, events in order,
    /// progress, its parts when split) and what it made (outputs, the poster).
    func job(_ request: Request) async throws -> Response {
        let queue = try queue(request.query("queue"))
        let id = try DashboardInput.id(request.query("id"))
        guard let record = try await queue.record(id: id) else {
            return DashboardResponse.html(HTML.page(title: "Not found", active: "Jobs", session: session,
                                                    body: "<h1>No job \(HTML.escape(id))</h1><p>It never existed or its record has expired.</p>"), status: .notFound)
        }
        let f = record.fields
        let fields = ["IDs": ["id", "queue", "type", "state", "priority", "file_id", "movie_id", "meta_movie_id", "parent", "worker", "version"],
                      "Attempts": ["attempts", "max_attempts", "stalls", "error_code", "error_message", "stage"],
                      "Times": ["created_at", "run_at", "started_at", "finished_at"]]
        var body = "<h1>Job \(HTML.escape(id))</h1>"
        var actions = ""
        if record.state == .dead {
            actions += HTML.action("/job/retry", label: "Retry", fields: ["queue": queue.name, "id": id], session: session)
            actions += HTML.action("/job/delete", label: "Delete", fields: ["queue": queue.name, "id": id], session: session, confirm: true)
        }
        if [.waiting, .delayed, .active, .failed, .waitingChildren].contains(record.state) {
            actions += HTML.action("/job/cancel", label: "Cancel", fields: ["queue": queue.name, "id": id], session: session, confirm: true)
        }
        body += actions.isEmpty ? "" : "<p class=\"actions\">\(actions)</p>"
        body += "<table class=\"fields\">"
        for section in ["IDs", "Attempts", "Times"] {
            for name in fields[section]! {
                guard let value = f[name], !value.isEmpty, value != "0" || section == "Attempts" else { continue }
                // The last error of a job that went on to succeed is in the history below, not here.
                if name.hasPrefix("error_"), ![.dead, .failed].contains(record.state) { continue }
                let shown = section == "Times" ? HTML.time(value) : value
                body += "<tr><th>\(name)</th><td id=\"field-\(name)\">\(HTML.escape(shown))</td></tr>"
            }
        }
        body += "</table>"
        if [.active, .waitingChildren].contains(record.state), let progress = f["progress"], let value = try? JSONValue.parse(progress), let percent = value["percent"]?.numberValue {
            body += "<p>Progress <span class=\"bar\"><span style=\"width:\(Int(min(100, max(0, percent))))%\"></span></span> \(String(format: "%.1f", percent)) %</p>"
        }
        if record.fields["graph"] == "1" || f["split"] != nil {
            let parts = try await queue.parts(of: id)
            body += "<h2>Parts (\(parts.count))</h2><table class=\"parts\"><tr><th>part</th><th>asset</th><th>state</th><th>worker</th><th>attempts</th></tr>"
            for part in parts {
                body += "<tr><td><a href=\"/job?queue=\(HTML.query(queue.name))&id=\(HTML.query(part.id))\">\(HTML.escape(part.id))</a></td><td>\(HTML.escape(part.asset))</td>"
                body += "<td>\(HTML.escape(part.state?.rawValue ?? "expired"))</td><td>\(HTML.escape(part.worker))</td><td>\(part.attempts)</td></tr>"
            }
            body += "</table>"
        }
        if let result = f["result"], let value = try? JSONValue.parse(result) {
            let outputs = Self.outputURLs(in: value)
            if !outputs.isEmpty {
                body += "<h2>Outputs</h2><ul class=\"outputs\">" + outputs.map { name, url in
                    let shown = HTML.escape(url)
                    let link = url.hasPrefix("http://") || url.hasPrefix("https://") ? "<a href=\"\(shown)\">\(shown)</a>" : "<code>\(shown)</code>"
                    return "<li>\(HTML.escape(name)): \(link)</li>"
                }.joined() + "</ul>"
            }
            if outputs.contains(where: { $0.0.hasSuffix("poster") }) {
                body += "<p><img id=\"poster\" alt=\"poster\" style=\"max-width:480px\" src=\"/poster?queue=\(HTML.query(queue.name))&id=\(HTML.query(id))\"></p>"
            }
            body += "<h2>Result</h2><pre id=\"result\">\(HTML.escape(HTML.prettyJSON(value)))</pre>"
        }
        body += "<h2>Payload</h2><pre id=\"payload\">\(HTML.escape(HTML.prettyJSON(text: f["payload"] ?? "")))</pre>"
        body += "<h2>Metadata</h2><pre id=\"metadata\">\(HTML.escape(HTML.prettyJSON(text: f["metadata"] ?? "{}")))</pre>"
        if let history = f["history"].flatMap({ try? JSONValue.parse($0) })?.arrayValue, !history.isEmpty {
            body += "<h2>Attempts that failed</h2><table class=\"history\"><tr><th>at</th><th>attempt</th><th>worker</th><th>error</th><th>message</th></tr>"
            for entry in history {
                body += "<tr>" + ["at", "attempt", "worker_id", "error_code", "message"].map { key in
                    "<td>\(HTML.escape(entry[key].map { $0.stringValue ?? $0.jsonText } ?? ""))</td>"
                }.joined() + "</tr>"
            }
            body += "</table>"
        }
        let events = try await queue.events(of: id)
        body += "<h2>Events (\(events.count))</h2><table class=\"events\"><tr><th>stream id</th><th>type</th><th>at</th><th>event</th></tr>"
        for event in events {
            let value = try? JSONValue.parse(event.json)
            body += "<tr><td>\(HTML.escape(event.streamID))</td><td class=\"event-type\">\(HTML.escape(value?["type"]?.stringValue ?? ""))</td>"
            body += "<td>\(HTML.escape(value?["occurred_at"]?.stringValue ?? ""))</td><td><pre>\(HTML.escape(value.map { HTML.prettyJSON($0["data"] ?? .null) } ?? event.json))</pre></td></tr>"
        }
        body += "</table>"
        return DashboardResponse.html(HTML.page(title: "Job \(id)", active: "Jobs", session: session, notice: request.query("done"), body: body))
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

    /// The job's poster, read from storage (the dashboard has the workers' storage settings).
    func poster(_ request: Request) async throws -> Response {
        let queue = try queue(request.query("queue"))
        let id = try DashboardInput.id(request.query("id"))
        guard let storage, let record = try await queue.record(id: id),
              let result = record.fields["result"].flatMap({ try? JSONValue.parse($0) }),
              let url = Self.outputURLs(in: result).first(where: { $0.0.hasSuffix("poster") })?.1,
              let location = try? StorageLocation(parsing: url) else {
            return DashboardResponse.text("no poster", status: .notFound)
        }
        let path = NSTemporaryDirectory() + "mw-dashboard-poster-\(UUID().uuidString).jpg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try await storage.download(location, to: path, maxBytes: 16 << 20)
        } catch {
            return DashboardResponse.text("poster unreadable: \(error)", status: .badGateway)
        }
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        return DashboardResponse.make(Array(bytes), contentType: "image/jpeg")
    }
}
