import Foundation
import Mustache

/// The dashboard's pages: Mustache templates (`Templates/`, embedded by `make dashboard`) that
/// escape every `{{value}}` by default, so no page can carry markup a producer put in a job. A
/// page is its own template rendered into `layout`.
enum DashboardPages {
    struct TemplateError: Error, CustomStringConvertible {
        let description: String
    }

    /// Every template, parsed once; a template that does not parse is found by
    /// DashboardTemplateTests, and a page that needs it answers 500 naming it.
    static let library: Result<MustacheLibrary, TemplateError> = {
        var library = MustacheLibrary()
        for (name, text) in EmbeddedDashboard.templates {
            do {
                try library.register(text, named: name)
            } catch {
                return .failure(TemplateError(description: "template \(name): \(error)"))
            }
        }
        return .success(library)
    }()

    static func render(_ template: String, _ context: [String: Any]) throws -> String {
        guard let text = try library.get().render(context, withTemplate: template) else {
            throw TemplateError(description: "no template \(template)")
        }
        return text
    }

    /// The sections in the header, in order.
    static let sections = [("/", "Overview"), ("/jobs", "Jobs"), ("/dead", "Dead letters"), ("/workers", "Workers"),
                           ("/events", "Live events"), ("/webhooks", "Webhooks")]

    /// A whole page: `template` rendered with `context`, inside the layout.
    static func page(_ template: String, _ context: [String: Any], title: String, active: String, session: DashboardSession,
                     notice: String? = nil) throws -> String {
        var layout: [String: Any] = [
            "title": title,
            "body": try render(template, context),
            "nav": sections.map { ["href": $0.0, "name": $0.1, "on": $0.1 == active] as [String: Any] },
            "session": ["readOnly": session.readOnly, "loggedIn": session.loggedIn, "csrf": session.csrf] as [String: Any],
        ]
        if let notice { layout["notice"] = notice }
        return try render("layout", layout)
    }

    /// The context of `action.mustache`: a POST form with one button (none in read-only mode).
    static func action(_ path: String, label: String, fields: [String: String], session: DashboardSession, confirm: Bool = false) -> [String: Any] {
        ["path": path, "label": label, "confirm": confirm, "readOnly": session.readOnly, "csrf": session.csrf,
         "fields": fields.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] }]
    }

    /// The context of `queue_picker.mustache`: absent with one queue.
    static func queuePicker(_ names: [String], selected: String, path: String) -> [String: Any]? {
        guard names.count > 1 else { return nil }
        return ["queues": names.map { name in
            ["name": name, "on": name == selected, "href": "\(path)?queue=\(DashboardFormat.query(name))"] as [String: Any]
        }]
    }
}
