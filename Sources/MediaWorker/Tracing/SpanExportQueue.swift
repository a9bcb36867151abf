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

    /// Everything queued, swapped into `spans` (emptied first, its capacity kept and handed back to
    /// the queue: a batch's arrays are reused, not allocated and page-faulted every tick); returns
    /// how many spans were dropped since the last take.
    func takeAll(into spans: inout [FinishedSpan]) -> Int {
        spans.removeAll(keepingCapacity: true)
        return state.withLock { state in
            swap(&state.spans, &spans)
            let dropped = state.dropped
            state.dropped = 0
            return dropped
        }
    }

    /// Everything queued, and how many spans were dropped since the last take.
    func takeAll() -> (spans: [FinishedSpan], dropped: Int) {
        var spans: [FinishedSpan] = []
        let dropped = takeAll(into: &spans)
        return (spans, dropped)
    }
}
