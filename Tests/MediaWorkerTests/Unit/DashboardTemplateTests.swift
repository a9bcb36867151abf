import Foundation
import MarkupEscaping
@testable import MediaWorker
import TestSupport
import Testing

/// The dashboard's pages are Mustache templates (Dashboard/Templates) embedded into the binary:
/// the embedded copy is the files, every template parses, and a value from Redis never reaches
/// a page as markup.
@Suite("Dashboard templates")
struct DashboardTemplateTests {
    static let hostile = #"<script>alert("x")</script> & 'q'"#
    static let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"

    @Test("the embedded templates and assets are the files (scripts/embed-dashboard.py writes them)")
    func embeddedCopyIsCurrent() async throws {
        #expect(try await TestSupport.embeddedCopyIsCurrent("embed-dashboard.py"), "EmbeddedDashboard.swift differs from Dashboard/Templates or Assets: run make dashboard")
    }

    @Test("every template parses and every partial it names exists")
    func templatesParse() throws {
        let library = try DashboardPages.library.get()
        for (name, text) in EmbeddedDashboard.templates {
            #expect(library.getTemplate(named: name) != nil, "\(name)")
            for match in text.matches(of: /\{\{>\s*([a-z_]+)\s*\}\}/) {
                #expect(EmbeddedDashboard.templates[String(match.1)] != nil, "\(name) names a partial \(match.1) that does not exist")
            }
        }
        #expect(EmbeddedDashboard.assets["dashboard.css"] != nil && EmbeddedDashboard.assets["live.js"] != nil)
    }

    @Test("values from Redis are escaped everywhere a page shows them: text, attributes, URLs, forms")
    func hostileValuesAreEscaped() throws {
        let session = DashboardSession(csrf: Self.hostile, readOnly: false, loggedIn: true)
        let row: [String: Any] = ["id": Self.hostile, "href": "/job?id=" + DashboardFormat.query(Self.hostile), "type": Self.hostile,
                                  "state": "dead", "fileID": Self.hostile, "movie": Self.hostile, "attempts": "1", "maxAttempts": "3",
                                  "created": "", "finished": "", "errorCode": Self.hostile, "hasActions": true,
                                  "rowActions": [DashboardPages.action("/job/retry", label: "Retry", fields: ["id": Self.hostile], session: session)]]
        let page = try DashboardPages.page("dead", ["queue": Self.hostile, "total": 1, "jobTable": ["actions": true, "rows": [row]]],
                                           title: Self.hostile, active: "Dead letters", session: session, notice: Self.hostile)
        #expect(!page.contains("<script>"), "\(page)")
        #expect(!page.contains("'q'") && !page.contains(#""x""#))
        #expect(page.components(separatedBy: Self.escaped).count - 1 >= 10, "\(page)")
        #expect(page.contains(#"<input type="hidden" name="id" value="\#(Self.escaped)">"#))
        #expect(page.contains(#"<div class="notice" id="notice">\#(Self.escaped)</div>"#))
    }

    @Test("read-only pages carry no forms but the log-out")
    func readOnlyHasNoActions() throws {
        let session = DashboardSession(csrf: "c", readOnly: true, loggedIn: true)
        let action = DashboardPages.action("/dead/retry-all", label: "Retry all", fields: ["queue": "q"], session: session)
        let page = try DashboardPages.page("dead", ["queue": "q", "total": 3, "bulk": ["retryAll": action, "deleteAll": action]],
                                           title: "Dead letters", active: "Dead letters", session: session)
        #expect(page.components(separatedBy: "<form").count - 1 == 1, "\(page)")
        #expect(page.contains(#"id="logout""#) && page.contains(#"<span class="ro">read-only</span>"#))
    }

    @Test("the one escaper turns the five markup characters into entities")
    func escaper() {
        #expect(markupEscaped(Self.hostile) == Self.escaped)
        #expect(markupEscaped("plain ünïcode") == "plain ünïcode")
    }
}
