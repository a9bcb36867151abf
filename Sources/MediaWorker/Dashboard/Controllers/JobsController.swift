import Foundation
import Hummingbird
import JobContract
import QueueClient
import Storage

/// `/jobs`, `/job`, `/poster` and a job's actions (retry, delete, cancel).
struct JobsController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/jobs") { request, _ in try await jobs(request) }
        router.get("/job") { request, _ in try await job(request) }
        router.get("/poster") { request, _ in try await poster(request) }
        router.post("/job/retry") { request, _ in try await dashboard.act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return (try await queue.retryDead(id: id) ? "retried \(id)" : "\(id) is not dead (or its payload is invalid)", id)
        } }
        router.post("/job/delete") { request, _ in try await dashboard.act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return (try await queue.deleteDead(id: id) ? "deleted \(id)" : "\(id) is not dead", nil)
        } }
        router.post("/job/cancel") { request, _ in try await dashboard.act(request) { queue, form in
            let id = try DashboardInput.id(form["id"])
            return ("\(id): " + (try await queue.cancel(id: id)).rawValue.replacingOccurrences(of: "_", with: " "), id)
        } }
    }

    /// Jobs by state, a page at a time, or the jobs a search finds (job id, file_id, movie id).
    func jobs(_ request: Request) async throws -> Response {
        let workers = try await dashboard.registry.list()
        let queue = try dashboard.queue(request.query("queue"))
        let state = try DashboardInput.state(request.query("state"))
        let term = try DashboardInput.term(request.query("q") ?? "")
        let page = try DashboardInput.page(request.query("page"))
        let ids: [String]
        let total: Int
        if term.isEmpty {
            (total, ids) = try await queue.page(state, offset: (page - 1) * Dashboard.pageSize, limit: Dashboard.pageSize)
        } else {
            ids = try await queue.search(term)
            total = ids.count
        }
        let q = DashboardFormat.query(queue.name)
        var context: [String: Any] = [
            "queue": queue.name, "term": term, "total": total, "state": state.rawValue, "searching": !term.isEmpty,
            "tabs": BrowsableState.allCases.map { item in
                ["name": item.rawValue, "on": term.isEmpty && item == state, "href": "/jobs?queue=\(q)&state=\(item.rawValue)"] as [String: Any]
            },
            "jobTable": dashboard.jobTable(try await queue.summaries(ids), queue: queue.name),
        ]
        if let picker = DashboardPages.queuePicker(dashboard.queueNames(workers: workers), selected: queue.name, path: "/jobs") {
            context["queuePicker"] = picker
        }
        if term.isEmpty {
            let pages = max(1, (total + Dashboard.pageSize - 1) / Dashboard.pageSize)
            var pager: [String: Any] = ["page": page, "pages": pages]
            let base = "/jobs?queue=\(q)&state=\(state.rawValue)&page="
            if page > 1 { pager["previous"] = base + "\(page - 1)" }
            if page < pages { pager["next"] = base + "\(page + 1)" }
            if pages > 2 { pager["last"] = base + "\(pages)" }
            context["pager"] = pager
        }
        return DashboardResponse.html(try DashboardPages.page("jobs", context, title: "Jobs", active: "Jobs", session: dashboard.session))
    }

    /// One job: what was asked (payload), what happened (attempts, history, events in order,
    /// progress, its parts when split) and what it made (outputs, the poster).
    func job(_ request: Request) async throws -> Response {
        let session = dashboard.session
        let queue = try dashboard.queue(request.query("queue"))
        let id = try DashboardInput.id(request.query("id"))
        guard let record = try await queue.record(id: id) else {
            return DashboardResponse.html(try DashboardPages.page("job_missing", ["id": id], title: "Not found", active: "Jobs", session: session),
                                          status: .notFound)
        }
        let f = record.fields
        var context: [String: Any] = ["id": id]
        var actions: [[String: Any]] = []
        let target = ["queue": queue.name, "id": id]
        if record.state == .dead {
            actions.append(DashboardPages.action("/job/retry", label: "Retry", fields: target, session: session))
            actions.append(DashboardPages.action("/job/delete", label: "Delete", fields: target, session: session, confirm: true))
        }
        if [.waiting, .delayed, .active, .failed, .waitingChildren].contains(record.state) {
            actions.append(DashboardPages.action("/job/cancel", label: "Cancel", fields: target, session: session, confirm: true))
        }
        context["actions"] = actions
        context["hasActions"] = !actions.isEmpty && !session.readOnly
        let sections: [(String, [String])] = [
            ("IDs", ["id", "queue", "type", "state", "priority", "file_id", "movie_id", "meta_movie_id", "parent", "worker", "version"]),
            ("Attempts", ["attempts", "max_attempts", "stalls", "error_code", "error_message", "stage"]),
            ("Times", ["created_at", "run_at", "started_at", "finished_at"]),
        ]
        var shownFields: [[String: Any]] = []
        for (section, names) in sections {
            for name in names {
                guard let value = f[name], !value.isEmpty, value != "0" || section == "Attempts" else { continue }
                // The last error of a job that went on to succeed is in the history below, not here.
                if name.hasPrefix("error_"), ![.dead, .failed].contains(record.state) { continue }
                shownFields.append(["name": name, "value": section == "Times" ? DashboardFormat.time(value) : value])
            }
        }
        context["fields"] = shownFields
        if [.active, .waitingChildren].contains(record.state), let progress = f["progress"], let value = try? JSONValue.parse(progress),
           let percent = value["percent"]?.numberValue {
            context["progress"] = ["width": Int(min(100, max(0, percent))), "percent": String(format: "%.1f", percent)] as [String: Any]
        }
        if record.fields["graph"] == "1" || f["split"] != nil {
            let parts = try await queue.parts(of: id)
            context["parts"] = ["count": parts.count, "rows": parts.map { part in
                ["id": part.id, "href": "/job?queue=\(DashboardFormat.query(queue.name))&id=\(DashboardFormat.query(part.id))", "asset": part.asset,
                 "state": part.state?.rawValue ?? "expired", "worker": part.worker, "attempts": part.attempts] as [String: Any]
            }] as [String: Any]
        }
        if let result = f["result"], let value = try? JSONValue.parse(result) {
            let outputs = Dashboard.outputURLs(in: value)
            context["hasOutputs"] = !outputs.isEmpty
            context["outputs"] = outputs.map { name, url in
                ["name": name, "url": url, "link": url.hasPrefix("http://") || url.hasPrefix("https://")] as [String: Any]
            }
            if outputs.contains(where: { $0.0.hasSuffix("poster") }) {
                context["poster"] = "/poster?queue=\(DashboardFormat.query(queue.name))&id=\(DashboardFormat.query(id))"
            }
            context["result"] = DashboardFormat.prettyJSON(value)
        }
        context["payload"] = DashboardFormat.prettyJSON(text: f["payload"] ?? "")
        context["metadata"] = DashboardFormat.prettyJSON(text: f["metadata"] ?? "{}")
        if let history = f["history"].flatMap({ try? JSONValue.parse($0) })?.arrayValue, !history.isEmpty {
            context["hasHistory"] = true
            context["history"] = history.map { entry in
                ["cells": ["at", "attempt", "worker_id", "error_code", "message"].map { key in entry[key].map { $0.stringValue ?? $0.jsonText } ?? "" }]
            }
        }
        let events = try await queue.events(of: id)
        context["eventCount"] = events.count
        context["events"] = events.map { event -> [String: Any] in
            let value = try? JSONValue.parse(event.json)
            return ["streamID": event.streamID, "type": value?["type"]?.stringValue ?? "", "at": value?["occurred_at"]?.stringValue ?? "",
                    "data": value.map { DashboardFormat.prettyJSON($0["data"] ?? .null) } ?? event.json]
        }
        return DashboardResponse.html(try DashboardPages.page("job", context, title: "Job \(id)", active: "Jobs", session: session,
                                                              notice: request.query("done")))
    }

    /// The job's poster, read from storage (the dashboard has the workers' storage settings).
    func poster(_ request: Request) async throws -> Response {
        let queue = try dashboard.queue(request.query("queue"))
        let id = try DashboardInput.id(request.query("id"))
        guard let storage = dashboard.storage, let record = try await queue.record(id: id),
              let result = record.fields["result"].flatMap({ try? JSONValue.parse($0) }),
              let url = Dashboard.outputURLs(in: result).first(where: { $0.0.hasSuffix("poster") })?.1,
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
