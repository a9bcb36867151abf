import Foundation
import Logging
@testable import MediaWorker
import ServiceLifecycle
import TestSupport
import Testing
import Tracing

/// The worker's own tracer and OTLP/HTTP exporter: settings from `OTEL_*`, samplers, W3C
/// context in and out, and what a collector receives (the tests' receiver decodes with PyPI
/// opentelemetry-proto), including retries and the flush on shutdown.
@Suite("Span export: tracer, samplers, OTLP/HTTP")
struct SpanExportTests {
    static let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]

    @Test("export settings from OTEL_*: headers, timeouts, batching, sampler, resource; what cannot work is refused naming its variable")
    func exportSettings() throws {
        let defaults = try TracingSettings(environment: Self.endpoint).export
        #expect(defaults.scheduleDelay == .milliseconds(200) && defaults.maxExportBatchSize == 4096 && defaults.maxQueueSize == 16384)
        #expect(defaults.requestTimeout == .seconds(10) && defaults.exportTimeout == .seconds(30) && defaults.sampler == .standard)
        #expect(defaults.resource(workerID: "w1").contains(TracingSettings.Pair(key: "service.name", value: "media-worker")))
        #expect(defaults.resource(workerID: "w1").contains(TracingSettings.Pair(key: "service.instance.id", value: "w1")))

        let set = try TracingSettings(environment: Self.endpoint.merging([
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-tenant = media",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-only=traces",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=ignored,service.instance.id=pod-7",
            "OTEL_SERVICE_NAME": "transcoder",
        ]) { $1 }).export
        // The traces-specific variable wins over the shared one, as the specification says.
        #expect(set.headers == [TracingSettings.Pair(key: "x-only", value: "traces")])
        #expect(try TracingSettings(environment: Self.endpoint.merging(["OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-tenant = media"]) { $1 }).export.headers
            == [TracingSettings.Pair(key: "authorization", value: "Bearer abc"), TracingSettings.Pair(key: "x-tenant", value: "media")])
        #expect(set.requestTimeout == .milliseconds(2500) && set.scheduleDelay == .milliseconds(50))
        #expect(set.maxQueueSize == 100 && set.maxExportBatchSize == 10 && set.sampler == .parentBased(root: .traceIDRatio(0.25)))
        let resource = set.resource(workerID: "w1")
        #expect(resource.filter { $0.key == "service.name" } == [TracingSettings.Pair(key: "service.name", value: "transcoder")])
        #expect(resource.filter { $0.key == "service.instance.id" } == [TracingSettings.Pair(key: "service.instance.id", value: "pod-7")])
        #expect(resource.contains(TracingSettings.Pair(key: "deployment.environment", value: "prod")))
        // Each key once, the last given winning.
        #expect(try TracingSettings(environment: Self.endpoint.merging(["OTEL_RESOURCE_ATTRIBUTES": "team=a,team=b"]) { $1 }).export.resource
            == [TracingSettings.Pair(key: "team", value: "b")])
        // A smaller queue alone (the SDK's default) brings the batch down with it.
        let smallQueue = try TracingSettings(environment: Self.endpoint.merging(["OTEL_BSP_MAX_QUEUE_SIZE": "2048"]) { $1 }).export
        #expect(smallQueue.maxQueueSize == 2048 && smallQueue.maxExportBatchSize == 2048)
        #expect(try TracingSettings(environment: Self.endpoint.merging(["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"]) { $1 }).export.gzip)

        for (variable, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/v1/traces"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            ("OTEL_BSP_SCHEDULE_DELAY", "-5"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20000"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=value"),
        ] {
            do {
                _ = try TracingSettings(environment: Self.endpoint.merging([variable: value]) { $1 })
                Issue.record("\(variable)=\(value) was accepted")
            } catch {
                #expect(error.variable == variable, "\(error)")
            }
        }
    }

    @Test("certificate files that are not PEM stop the start, naming their variable; a client key needs its certificate")
    func certificatesReadAtStart() throws {
        do {
            _ = try TracingSettings(environment: Self.endpoint.merging(["OTEL_EXPORTER_OTLP_CLIENT_KEY": "/etc/hostname"]) { $1 })
            Issue.record("a client key without its certificate was accepted")
        } catch {
            #expect(error.variable == "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "\(error)")
        }
        let folder = try makeTestDirectory("otlp-pem")
        defer { try? FileManager.default.removeItem(at: folder) }
        let notPEM = folder.appendingPathComponent("ca.pem").path
        try "not a certificate".write(toFile: notPEM, atomically: true, encoding: .utf8)
        for (variable, extra) in [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ["OTEL_EXPORTER_OTLP_CERTIFICATE": notPEM]),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": notPEM, "OTEL_EXPORTER_OTLP_CLIENT_KEY": notPEM]),
        ] {
            let settings = try TracingSettings(environment: Self.endpoint.merging(extra) { $1 })
            do throws(ConfigurationError) {
                _ = try TracingBackend.make(settings, workerID: "w", logger: Logger(label: "test"))
                Issue.record("\(variable) accepted a file that is not PEM")
            } catch {
                #expect(error.variable == variable, "\(error)")
            }
        }
    }

    @Test("samplers: parent-based follows the parent's flag; the ratio records about its share of root traces, the same way for the same trace id")
    func samplers() throws {
        let sampled = SpanIdentity(traceHigh: 1, traceLow: 2, spanID: 3, flags: 1, traceState: nil)
        let notSampled = SpanIdentity(traceHigh: 1, traceLow: 2, spanID: 3, flags: 0, traceState: nil)
        #expect(TraceSampler.standard.shouldSample(traceHigh: 1, traceLow: 2, parent: nil))
        #expect(TraceSampler.standard.shouldSample(traceHigh: 1, traceLow: 2, parent: sampled))
        #expect(!TraceSampler.standard.shouldSample(traceHigh: 1, traceLow: 2, parent: notSampled))
        #expect(TraceSampler.parentBased(root: .alwaysOff).shouldSample(traceHigh: 1, traceLow: 2, parent: sampled))
        #expect(!TraceSampler.parentBased(root: .alwaysOff).shouldSample(traceHigh: 1, traceLow: 2, parent: nil))
        #expect(TraceSampler.alwaysOn.shouldSample(traceHigh: 1, traceLow: 2, parent: notSampled))
        #expect(!TraceSampler.alwaysOff.shouldSample(traceHigh: 1, traceLow: 2, parent: sampled))

        let ids = SpanIDGenerator(seed: 42)
        let ratio = TraceSampler.traceIDRatio(0.25)
        var recorded = 0
        for _ in 0..<20000 {
            let high = ids.next(), low = ids.next()
            let decision = ratio.shouldSample(traceHigh: high, traceLow: low, parent: nil)
            #expect(decision == ratio.shouldSample(traceHigh: high, traceLow: low, parent: nil))
            if decision { recorded += 1 }
        }
        // 5,000 expected; the standard deviation is about 61.
        #expect((4600...5400).contains(recorded), "\(recorded)")
        #expect(TraceSampler(name: "TraceIdRatio", argument: "2") == .traceIDRatio(1))
        #expect(TraceSampler(name: "traceidratio", argument: nil) == .traceIDRatio(1))
    }

    @Test("W3C context: a child shares its parent's trace and names it; inject gives back what was extracted; sampled-out spans queue nothing; a span ends once")
    func contextInAndOut() throws {
        let sink = CollectingSink()
        let tracer = WorkerTracer(sampler: .standard, sink: sink)
        var producer = ServiceContext.topLevel
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        tracer.extract(["traceparent": text, "tracestate": "vendor=x"], into: &producer, using: DictionaryCarrier())
        let identity = try #require(producer.spanIdentity)
        #expect(identity.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736" && identity.spanIDHex == "00f067aa0ba902b7" && identity.sampled)
        var headers: [String: String] = [:]
        tracer.inject(producer, into: &headers, using: DictionaryCarrier())
        #expect(headers == ["traceparent": text, "tracestate": "vendor=x"])

        let child = tracer.startSpan("child", context: producer, ofKind: .consumer)
        #expect(child.identity.traceIDHex == identity.traceIDHex && child.identity.spanID != identity.spanID && child.isRecording)
        child.attributes["a"] = 1
        child.end()
        child.end()
        child.attributes["late"] = "ignored"
        #expect(!child.isRecording)
        let spans = sink.take()
        #expect(spans.count == 1)
        #expect(spans.first?.parentSpanID == identity.spanID && spans.first?.identity.traceState == "vendor=x")
        #expect(spans.first?.attributes.map(\.key) == ["a"])

        var notSampled = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"], into: &notSampled, using: DictionaryCarrier())
        let quiet = tracer.startSpan("quiet", context: notSampled, ofKind: .internal)
        #expect(!quiet.isRecording && !quiet.identity.sampled)
        quiet.end()
        // Garbage is not a context: a new trace starts.
        var garbage = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-XYZ"], into: &garbage, using: DictionaryCarrier())
        #expect(garbage.spanIdentity == nil)
        let root = tracer.startSpan("root", context: garbage, ofKind: .internal)
        root.end()
        #expect(sink.take().map(\.parentSpanID) == [0])

        // The export queue: batches of at most the batch size; a full queue drops and counts.
        let queue = SpanExportQueue(capacity: 10, batchSize: 4)
        let queued = WorkerTracer(sampler: .standard, sink: queue)
        for index in 0..<12 { queued.startSpan("s\(index)", context: .topLevel, ofKind: .internal).end() }
        var full = queue.takeBatches()
        #expect(full.batches.map(\.count) == [4, 4, 2] && full.dropped == 2)
        // Recycled buffers come back empty: spans of one size fill a batch of four with four
        // times one span's bytes, not with what the buffer held before.
        queue.recycle(&full.batches)
        for _ in 0..<5 { queued.startSpan("after", context: .topLevel, ofKind: .internal).end() }
        let again = queue.takeBatches().batches
        #expect(again.map(\.count) == [4, 1])
        #expect(again.count == 2 && again[0].bytes.count == 4 * again[1].bytes.count && again[1].bytes.count > 50)
    }

    @Test("a collector receives every field (gzip bodies): ids, parent, kind, times, attributes of each type, events, links, status, trace state, resource, headers")
    func collectorReceivesEveryField() async throws {
        let (receiver, folder) = try await OTLPReceiver.start(folder: "span-fields")
        defer { receiver.stop(removing: folder) }
        var environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "20",
                           "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t0ken,x-tenant=media", "OTEL_SERVICE_NAME": "transcoder",
                           "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"]
        environment["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test"
        let settings = try TracingSettings(environment: environment)
        let backend = try #require(try TracingBackend.make(settings, workerID: "w-fields", logger: Logger(label: "test")))
        let tracer = try #require(backend.tracer.tracer)
        let group = ServiceGroup(services: [backend.service], logger: Logger(label: "test"))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            var producer = ServiceContext.topLevel
            tracer.extract(["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "vendor=x"], into: &producer, using: DictionaryCarrier())
            let parent = tracer.startSpan("process default", context: producer, ofKind: .consumer)
            parent.attributes = ["text": "a", "count": 7, "ratio": 0.5, "flag": true, "names": .stringArray(["x", "y"]),
                                 "long": .string(String(repeating: "z", count: 300))]
            let link = SpanIdentity(traceHigh: 0xAA, traceLow: 0xBB, spanID: 0xCC, flags: 1, traceState: nil)
            parent.addLink(to: link)
            parent.recordError(TestFailure("broken input"))
            parent.setStatus(SpanStatus(code: .error, message: "MEDIA_INVALID: broken input"))
            let child = tracer.startSpan("download", context: parent.context, ofKind: .internal)
            child.end()
            parent.end()
            let arrived = await eventually(.seconds(60)) { receiver.spans().count >= 2 }
            #expect(arrived)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let spans = receiver.spans()
        let process = try #require(spans.first { $0.name == "process default" })
        let download = try #require(spans.first { $0.name == "download" })
        #expect(process.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && process.parentID == "00f067aa0ba902b7" && process.kind == 5)
        #expect(process.traceState == "vendor=x" && process.start > 1_700_000_000_000_000_000 && process.end >= process.start)
        #expect(download.parentID == process.spanID && download.traceID == process.traceID && download.kind == 1)
        #expect(process.string("text") == "a" && process.int("count") == 7 && process.attributes["ratio"] as? Double == 0.5)
        #expect(process.attributes["flag"] as? Bool == true && process.attributes["names"] as? [String] == ["x", "y"])
        #expect(process.string("long")?.count == 300)
        #expect(process.links == [["trace_id": "00000000000000aa00000000000000bb", "span_id": "00000000000000cc"]])
        #expect(process.events == ["exception"] && process.eventAttributes.first?["exception.message"] as? String == "broken input")
        #expect(process.statusCode == 2 && process.statusMessage == "MEDIA_INVALID: broken input")
        #expect(process.resource["service.name"] as? String == "transcoder" && process.resource["service.instance.id"] as? String == "w-fields")
        #expect(process.resource["deployment.environment"] as? String == "test")
        #expect(process.headers["authorization"] == "Bearer t0ken" && process.headers["x-tenant"] == "media")
        #expect(process.contentEncoding == "gzip")
    }

    @Test("a collector that answers 503 gets the batch again; what is queued when the worker stops still goes out")
    func retriesAndFlushesOnShutdown() async throws {
        let (receiver, folder) = try await OTLPReceiver.start(folder: "span-retry", refusing: 2)
        defer { receiver.stop(removing: folder) }
        // A schedule of an hour: only the shutdown's flush can send the second batch.
        let settings = try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "3600000"])
        let backend = try #require(try TracingBackend.make(settings, workerID: "w-retry", logger: Logger(label: "test")))
        let tracer = try #require(backend.tracer.tracer)
        for index in 0..<5 { tracer.startSpan("span \(index)", context: .topLevel, ofKind: .internal).end() }
        let group = ServiceGroup(services: [backend.service], logger: Logger(label: "test"))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(receiver.refused() == 2)
        #expect(Set(receiver.spans().map(\.name)) == Set((0..<5).map { "span \($0)" }))
        #expect(receiver.spans().count == 5)
    }
}

/// Keeps the spans that end, as they are.
final class CollectingSink: SpanSink, @unchecked Sendable {
    private let lock = NSLock()
    private var spans: [FinishedSpan] = []

    func record(_ span: FinishedSpan) { lock.withLock { spans.append(span) } }

    func take() -> [FinishedSpan] {
        lock.withLock {
            defer { spans = [] }
            return spans
        }
    }
}

/// W3C headers in a dictionary, both ways.
struct DictionaryCarrier: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
