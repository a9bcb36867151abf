import Foundation
import Hummingbird

/// `/healthz` (the process answers), `/readyz` (give it work), `/metrics` (Prometheus text) and
/// `/status` (worker id, uptime, current jobs with progress).
public enum HealthRoutes {
    public static func router(
        readiness: ReadinessState, metrics: WorkerMetrics, status: WorkerStatusBoard? = nil,
        beforeScrape: (@Sendable () async -> Void)? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        if let status {
            router.get("status") { _, _ in json(status.snapshot, status: .ok) }
        }
        router.get("healthz") { _, _ in
            json(["status": "ok"], status: .ok)
        }
        router.get("readyz") { _, _ in
            let report = readiness.report
            return json(report, status: report.ready ? .ok : .serviceUnavailable)
        }
        router.get("metrics") { _, _ in
            await beforeScrape?()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return router
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
