import Synchronization
import Tracing

/// A span as `WorkerTracer` starts it. A sampled span gathers its name, attributes, events,
/// links and status under one lock and, when it ends, goes to its sink as a
/// `FinishedSpan` (the export queue encodes it at once); a sampled-out one only carries its identity (for the parts it hands it on to).
/// Attributes are kept as a short list, not `SpanAttributes`' dictionary: a span has about ten,
/// and hashing each name per job cost more than the rest of the span.
final class WorkerSpan: Span, Sendable {
    /// One attribute, as the span keeps and exports it.
    struct Attribute: Sendable {
        let key: String
        let value: SpanAttribute

        init(_ key: String, _ value: SpanAttribute) {
            self.key = key
            self.value = value
        }

        /// The list form of the API's dictionary.
        static func list(_ attributes: SpanAttributes) -> [Attribute] {
            var list: [Attribute] = []
            attributes.forEach { list.append(Attribute($0, $1)) }
            return list
        }

        /// The API's dictionary of a list.
        static func dictionary(_ list: [Attribute]) -> SpanAttributes {
            var all: SpanAttributes = [:]
            for attribute in list { all[attribute.key] = attribute.value }
            return all
        }
    }

    let context: ServiceContext
    let identity: SpanIdentity
    private let parentSpanID: UInt64
    private let kind: SpanKind
    private let start: UInt64
    private let sink: (any SpanSink)?
    private let state: Mutex<State>

    struct State {
        var name: String
        var attributes: [Attribute] = []
        var events: [SpanEvent] = []
        var links: [FinishedSpan.Link] = []
        var status: SpanStatus?
        var ended = false
    }

    init(context: ServiceContext, identity: SpanIdentity, parentSpanID: UInt64, name: String, kind: SpanKind, start: UInt64, sink: (any SpanSink)?) {
        self.context = context
        self.identity = identity
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.start = start
        self.sink = sink
        state = Mutex(State(name: name))
    }

    var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { if !$0.ended { $0.name = newValue } } }
    }

    var attributes: SpanAttributes {
        get { Attribute.dictionary(state.withLock { $0.attributes }) }
        set {
            guard sink != nil else { return }
            let list = Attribute.list(newValue)
            state.withLock { if !$0.ended { $0.attributes = list } }
        }
    }

    /// Reads and writes the attributes under one lock (the protocol's default takes two, and a
    /// `set` between them would be lost).
    func updateAttributes(_ update: (inout SpanAttributes) -> Void) {
        guard sink != nil else { return }
        state.withLock { state in
            guard !state.ended else { return }
            var all = Attribute.dictionary(state.attributes)
            update(&all)
            state.attributes = Attribute.list(all)
        }
    }

    /// Adds attributes the span does not have yet (names set once, such as the attempt's
    /// outcome), without looking for the same name.
    func append(_ attributes: [Attribute]) {
        guard sink != nil else { return }
        state.withLock { state in
            if !state.ended { state.attributes += attributes }
        }
    }

    /// Sets these attributes (replacing any of the same name) under one lock.
    func set(_ attributes: [Attribute]) {
        guard sink != nil else { return }
        state.withLock { state in
            guard !state.ended else { return }
            // The attempt's first list goes in as it is.
            if state.attributes.isEmpty {
                state.attributes = attributes
                return
            }
            for attribute in attributes {
                if let index = state.attributes.firstIndex(where: { $0.key == attribute.key }) {
                    state.attributes[index] = attribute
                } else {
                    state.attributes.append(attribute)
                }
            }
        }
    }

    var isRecording: Bool { sink != nil && !state.withLock { $0.ended } }

    func setStatus(_ status: SpanStatus) {
        guard sink != nil else { return }
        state.withLock { state in
            // The specification: Ok is final; Unset never overrides.
            guard !state.ended, state.status?.code != .ok else { return }
            state.status = status
        }
    }

    func addEvent(_ event: SpanEvent) {
        guard sink != nil else { return }
        state.withLock { state in
            if !state.ended, state.events.count < FinishedSpan.limit { state.events.append(event) }
        }
    }

    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard sink != nil else { return }
        // The semantic conventions' exception event.
        var eventAttributes = attributes
        eventAttributes["exception.type"] = "\(type(of: error))"
        eventAttributes["exception.message"] = "\(error)"
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    func addLink(_ link: SpanLink) {
        guard let identity = link.context.spanIdentity else { return }
        addLink(to: identity, attributes: Attribute.list(link.attributes))
    }

    /// A link to the span `identity` names (a producer's, read from its `traceparent`).
    func addLink(to identity: SpanIdentity, attributes: [Attribute] = []) {
        guard sink != nil else { return }
        state.withLock { state in
            if !state.ended, state.links.count < FinishedSpan.limit { state.links.append(FinishedSpan.Link(identity: identity, attributes: attributes)) }
        }
    }

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let sink else { return }
        let end = instant().nanosecondsSinceEpoch
        let taken: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            let taken = state
            // The lock's copy lets go of what the finished span now owns.
            state.attributes = []
            state.events = []
            state.links = []
            return taken
        }
        guard let taken else { return }
        sink.record(FinishedSpan(
            identity: identity, parentSpanID: parentSpanID, name: taken.name, kind: kind, start: start, end: max(end, start),
            attributes: taken.attributes, events: taken.events,
            links: taken.links,
            status: taken.status))
    }
}

/// What an ended span exports.
struct FinishedSpan: Sendable {
    /// At most this many events and links per span (the SDK's default limits).
    static let limit = 128

    struct Link: Sendable {
        let identity: SpanIdentity
        let attributes: [WorkerSpan.Attribute]
    }

    let identity: SpanIdentity
    /// 0 for a root span.
    let parentSpanID: UInt64
    let name: String
    let kind: SpanKind
    let start: UInt64
    let end: UInt64
    let attributes: [WorkerSpan.Attribute]
    let events: [SpanEvent]
    let links: [Link]
    let status: SpanStatus?
}
