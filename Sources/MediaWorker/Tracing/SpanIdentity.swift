import JobContract
import Synchronization
import Tracing

/// A span's place in its trace, as W3C Trace Context names it: the trace id, the span's id, the
/// sampled flag and the vendors' `tracestate`. Carried in `ServiceContext`, so a child span, a
/// log line or a `traceparent` handed to a split job's parts finds the span it runs in.
struct SpanIdentity: Sendable, Hashable {
    /// The 128-bit trace id, high and low halves (never both zero).
    let traceHigh: UInt64
    let traceLow: UInt64
    /// The 64-bit span id (never zero).
    let spanID: UInt64
    /// W3C trace flags; bit 0 is "sampled".
    let flags: UInt8
    /// The producer's `tracestate`, handed on unchanged.
    let traceState: String?

    var sampled: Bool { flags & 1 == 1 }

    private var asTraceParent: TraceParent { TraceParent(traceHigh: traceHigh, traceLow: traceLow, parentSpan: spanID, flags: flags) }
    var traceIDHex: String { asTraceParent.traceID }
    var spanIDHex: String { asTraceParent.parentSpanID }
    var flagsHex: String { TraceParent.hex(UInt64(flags), digits: 2) }

    /// The version-00 `traceparent` naming this span.
    var traceparent: String { asTraceParent.text }

    /// The context a `traceparent` (and `tracestate`) names; nil when the text is not W3C Trace Context.
    init?(traceparent text: String, traceState: String?) {
        guard let parsed = TraceParent(parsing: text) else { return nil }
        self.init(traceHigh: parsed.traceHigh, traceLow: parsed.traceLow, spanID: parsed.parentSpan, flags: parsed.flags, traceState: traceState)
    }

    init(traceHigh: UInt64, traceLow: UInt64, spanID: UInt64, flags: UInt8, traceState: String?) {
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.spanID = spanID
        self.flags = flags
        self.traceState = traceState
    }
}

/// Where a span's identity lives in a `ServiceContext`.
enum SpanIdentityKey: ServiceContextKey {
    typealias Value = SpanIdentity
    static var nameOverride: String? { "mediaworker.span" }
}

extension ServiceContext {
    /// The span this context runs in, if any (set by `WorkerTracer`).
    var spanIdentity: SpanIdentity? {
        get { self[SpanIdentityKey.self] }
        set { self[SpanIdentityKey.self] = newValue }
    }
}

/// Random trace and span ids. One system-random seed, then SplitMix64 under a lock: a
/// `getrandom` call per id would cost a system call per span for no gain in uniqueness.
final class SpanIDGenerator: Sendable {
    private let state: Mutex<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = Mutex(seed)
    }

    /// A non-zero 64-bit id.
    func next() -> UInt64 {
        state.withLock { Self.nonZero(&$0) }
    }

    /// A new trace's ids (its two halves and its first span's) under one lock.
    func nextTrace() -> (high: UInt64, low: UInt64, span: UInt64) {
        state.withLock { (Self.nonZero(&$0), Self.nonZero(&$0), Self.nonZero(&$0)) }
    }

    private static func nonZero(_ state: inout UInt64) -> UInt64 {
        while true {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            if z != 0 { return z }
        }
    }
}
