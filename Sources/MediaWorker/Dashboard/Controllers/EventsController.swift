import Hummingbird
import JobContract
import QueueClient

/// `/events`: the newest events, then new ones as they come (`Assets/live.js` polls
/// `/api/events`, which answers the events after a stream id as JSON).
struct EventsController {
    let dashboard: Dashboard

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/events") { request, _ in try await events(request) }
        router.get("/api/events") { request, _ in try await eventsAfter(request) }
    }

    func events(_ request: Request) async throws -> Response {
        let workers = try await dashboard.registry.list()
        let queue = try dashboard.queue(request.query("queue"))
        let latest = try await queue.latestEvents(count: 50)
        var context: [String: Any] = [
            "queue": queue.name, "after": latest.last?.streamID ?? "0",
            "events": latest.map { event -> [String: Any] in
                let value = try? JSONValue.parse(event.json)
                return ["streamID": event.streamID, "type": value?["type"]?.stringValue ?? "", "jobID": value?["job_id"]?.stringValue ?? "",
                        "at": value?["occurred_at"]?.stringValue ?? "", "data": value?["data"]?.jsonText ?? ""]
            },
        ]
        if let picker = DashboardPages.queuePicker(dashboard.queueNames(workers: workers), selected: queue.name, path: "/events") {
            context["queuePicker"] = picker
        }
        return DashboardResponse.html(try DashboardPages.page("events", context, title: "Live events", active: "Live events",
                                                              session: dashboard.session))
    }

    /// `[{"id":…,"event":{…}}]` after a stream id, for the live tail.
    func eventsAfter(_ request: Request) async throws -> Response {
        let queue = try dashboard.queue(request.query("queue"))
        let after = try DashboardInput.streamID(request.query("after") ?? "0", name: "after")
        let events = try await queue.events(after: after, count: 200)
        return DashboardResponse.json("[" + events.map { "{\"id\":\(JSONValue.string($0.streamID).jsonText),\"event\":\($0.json)}" }.joined(separator: ",") + "]")
    }
}
