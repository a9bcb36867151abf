import Synchronization

/// Ended spans waiting for the exporter, bounded (`OTEL_BSP_MAX_QUEUE_SIZE`): when the exporter
/// falls behind, new spans are dropped and counted rather than growing the worker's memory.
final class SpanExportQueue: Sendable {
    let capacity: Int
    private let state = Mutex(State())

    struct State {
        var spans: [FinishedSpan] = []
        var dropped = 0
    }

    init(capacity: Int) {
        self.capacity = capacity
    }

    func append(_ span: FinishedSpan) {
        state.withLock { state in
            if state.spans.count < capacity {
                state.spans.append(span)
            } else {
                state.dropped += 1
            }
        }
    }

    /// Everything queued, and how many spans were dropped since the last take.
    func takeAll() -> (spans: [FinishedSpan], dropped: Int) {
        state.withLock { state in
            let taken = (state.spans, state.dropped)
            state.spans = []
            state.spans.reserveCapacity(min(taken.0.count, capacity))
            state.dropped = 0
            return taken
        }
    }
}
