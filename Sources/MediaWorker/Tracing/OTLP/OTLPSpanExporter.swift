import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The batch span processor and OTLP/HTTP exporter in one service: every schedule delay
/// (`OTEL_BSP_SCHEDULE_DELAY`) it takes what the export queue holds and POSTs it to the traces
/// endpoint in batches of at most `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans, protobuf-encoded. A
/// retryable answer (429, 502, 503, 504, or no answer at all) is tried again with back-off
/// (or after its `Retry-After`) within the export timeout; anything else drops the batch with a
/// warning. On graceful shutdown it exports what is left, within one export timeout in all and
/// giving up at the first batch that fails, so a dead collector cannot hold the worker's exit.
struct OTLPSpanExporter: Service {
    let settings: TracingSettings.Export
    let queue: SpanExportQueue
    let resource: [(String, String)]
    let client: HTTPClient.Configuration
    let logger: Logger

    /// What one tick works in, kept from tick to tick: buffers of a megabyte allocated afresh
    /// five times a second cost the worker thousands of page faults a second.
    struct Buffers {
        var request = ProtobufWriter()
        var body = ByteBuffer()
    }

    func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: client)
        var health = ExportHealth(logger: logger, endpoint: settings.endpoint)
        var buffers = Buffers()
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: settings.scheduleDelay) }
            } catch {
                break
            }
            await exportQueued(http, &health, &buffers, draining: false)
        }
        // Draining: the worker's last spans, then no more.
        await exportQueued(http, &health, &buffers, draining: true)
        try? await http.shutdown()
    }

    private func exportQueued(_ http: HTTPClient, _ health: inout ExportHealth, _ buffers: inout Buffers, draining: Bool) async {
        var (batches, dropped) = queue.takeBatches()
        defer { queue.recycle(&batches) }
        if dropped > 0 {
            logger.warning("spans dropped: the export queue was full", metadata: ["dropped": "\(dropped)", "queue_size": "\(queue.capacity)"])
        }
        let drainDeadline = ContinuousClock.now + settings.exportTimeout
        for (index, batch) in batches.enumerated() {
            OTLPTraceEncoder.write(encodedSpans: batch.bytes, resource: resource, scope: ("media-worker", MediaWorkerVersion.current), into: &buffers.request)
            buffers.body.clear()
            if settings.gzip, let compressed = GzipBody.compress(buffers.request.bytes) {
                buffers.body.writeBytes(compressed)
            } else {
                buffers.body.writeBytes(buffers.request.bytes)
            }
            let deadline = draining ? drainDeadline : ContinuousClock.now + settings.exportTimeout
            let outcome = await post(buffers.body, http, deadline: deadline)
            if draining, case .failed = outcome {
                health.note(outcome, spans: batches[index...].reduce(0) { $0 + $1.count })
                return
            }
            health.note(outcome, spans: batch.count)
        }
    }

    /// One batch, retried while the answer says "later" and `deadline` allows.
    private func post(_ body: ByteBuffer, _ http: HTTPClient, deadline: ContinuousClock.Instant) async -> ExportHealth.Outcome {
        var delay = Duration.milliseconds(100)
        var last = ExportHealth.Outcome.failed("no time left to send")
        while true {
            var request = HTTPClientRequest(url: settings.endpoint)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-protobuf")
            if settings.gzip { request.headers.add(name: "Content-Encoding", value: "gzip") }
            request.headers.add(name: "User-Agent", value: "media-worker/\(MediaWorkerVersion.current)")
            for header in settings.headers { request.headers.add(name: header.key, value: header.value) }
            request.body = .bytes(body)
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return last }
            var wait = delay
            do {
                let timeout = min(remaining, settings.requestTimeout)
                let response = try await http.execute(request, timeout: .nanoseconds(Int64((timeout / .nanoseconds(1)).rounded(.up))))
                let reply = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) { return .exported }
                let text = reply.map { String(buffer: $0).prefix(200) } ?? ""
                last = .failed("HTTP \(response.status.code)" + (text.isEmpty ? "" : ": \(text)"))
                guard [429, 502, 503, 504].contains(response.status.code) else { return last }
                // The collector's own pace when it names one (in seconds).
                if let seconds = response.headers.first(name: "Retry-After").flatMap({ Int($0) }), seconds >= 0 {
                    wait = .seconds(seconds)
                }
            } catch {
                last = .failed("\(error)")
            }
            guard ContinuousClock.now + wait < deadline, !Task.isCancelled else { return last }
            try? await Task.sleep(for: wait)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// The HTTP client for the collector: certificates read now, so a bad file stops the start.
    static func clientConfiguration(_ settings: TracingSettings.Export) throws(ConfigurationError) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout.connect = .seconds(5)
        if settings.certificate != nil || settings.clientCertificate != nil {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let certificate = settings.certificate {
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate))
                } catch {
                    throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_CERTIFICATE", reason: "not a PEM certificate file (\(certificate)): \(error)")
                }
            }
            if let chain = settings.clientCertificate, let key = settings.clientKey {
                do {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
                } catch {
                    throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", reason: "not a PEM certificate file (\(chain)): \(error)")
                }
                do {
                    tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                } catch {
                    throw ConfigurationError(variable: "OTEL_EXPORTER_OTLP_CLIENT_KEY", reason: "not a PEM private key file (\(key)): \(error)")
                }
            }
            configuration.tlsConfiguration = tls
        }
        return configuration
    }
}

/// Says when exports start failing and when they recover, not once per batch: a collector
/// that is down for an hour is two log lines, with the spans lost in between.
struct ExportHealth {
    enum Outcome {
        case exported
        case failed(String)
    }

    let logger: Logger
    let endpoint: String
    var lostSinceFailing = 0
    var failing = false

    mutating func note(_ outcome: Outcome, spans: Int) {
        switch outcome {
        case .exported:
            if failing {
                logger.info("span export recovered", metadata: ["endpoint": "\(endpoint)", "spans_lost": "\(lostSinceFailing)"])
                failing = false
                lostSinceFailing = 0
            }
        case .failed(let reason):
            lostSinceFailing += spans
            if !failing {
                logger.warning("span export failed; spans are dropped until it recovers", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)", "spans": "\(spans)"])
                failing = true
            }
        }
    }
}
