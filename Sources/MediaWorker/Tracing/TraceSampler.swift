/// Whether a new span is recorded, as `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`) say:
/// the OpenTelemetry SDK's built-in samplers.
enum TraceSampler: Sendable, Equatable {
    case alwaysOn
    case alwaysOff
    /// Records this fraction of root traces, decided by the trace id (the same decision in
    /// every process that sees the trace).
    case traceIDRatio(Double)
    /// A span with a parent follows the parent's sampled flag; a root span asks `root`.
    indirect case parentBased(root: TraceSampler)

    /// The SDK's default: `parentbased_always_on`.
    static let standard = TraceSampler.parentBased(root: .alwaysOn)

    func shouldSample(traceHigh: UInt64, traceLow: UInt64, parent: SpanIdentity?) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio):
            guard ratio < 1 else { return true }
            guard ratio > 0 else { return false }
            // The trace id's lowest 56 bits are random (W3C Trace Context level 2): compare
            // them with the ratio's share of 2^56.
            let threshold = UInt64(ratio * Double(1 << 56))
            return traceLow & 0x00FF_FFFF_FFFF_FFFF < threshold
        case .parentBased(let root):
            if let parent { return parent.sampled }
            return root.shouldSample(traceHigh: traceHigh, traceLow: traceLow, parent: nil)
        }
    }

    /// The sampler `OTEL_TRACES_SAMPLER` names; nil for a name that is not built in.
    /// `argument` is `OTEL_TRACES_SAMPLER_ARG` (the ratio, 1.0 when unset or unreadable, as the
    /// specification says).
    init?(name: String, argument: String?) {
        let ratio = argument.flatMap { Double($0) }.flatMap { (0...1).contains($0) ? $0 : nil } ?? 1
        switch name.lowercased() {
        case "always_on": self = .alwaysOn
        case "always_off": self = .alwaysOff
        case "traceidratio": self = .traceIDRatio(ratio)
        case "parentbased_always_on": self = .parentBased(root: .alwaysOn)
        case "parentbased_always_off": self = .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": self = .parentBased(root: .traceIDRatio(ratio))
        default: return nil
        }
    }
}
