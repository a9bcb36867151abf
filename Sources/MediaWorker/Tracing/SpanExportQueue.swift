import Synchronization

/// Where an ended, sampled span goes.
protocol SpanSink: Sendable {
    func record(_ span: FinishedSpan)
}

/// Ended spans waiting for the exporter, already encoded: a span becomes its protobuf bytes
/// (a `Span` of `ScopeSpans`) the moment it ends, on the thread that ended it, so nothing of it
/// stays alive until the export (no per-span memory freed later by another thread). Batches of
/// at most `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans; bounded (`OTEL_BSP_MAX_QUEUE_SIZE`): when the
/// exporter falls behind, new spans are dropped and counted rather than growing the worker's memory.
final class SpanExportQueue: SpanSink {
    /// Encoded spans, one after another, and how many.
    struct Batch: Sendable {
        var bytes: [UInt8] = []
        var count = 0
    }

    let capacity: Int
    let batchSize: Int
    private let state = Mutex(State())

    struct State {
        var open = Batch()
        var sealed: [Batch] = []
        var queued = 0
        var dropped = 0
        /// Byte buffers the exporter gave back, reused for the next batches.
        var spare: [[UInt8]] = []
    }

    init(capacity: Int, batchSize: Int) {
        self.capacity = capacity
        self.batchSize = min(batchSize, capacity)
    }

    func record(_ span: FinishedSpan) {
        state.withLock { state in
            guard state.queued < capacity else {
                state.dropped += 1
                return
            }
            var writer = ProtobufWriter()
            swap(&writer.bytes, &state.open.bytes)
            writer.message(2) { OTLPTraceEncoder.encode(span, into: &$0) }
            swap(&writer.bytes, &state.open.bytes)
            state.open.count += 1
            state.queued += 1
            if state.open.count >= batchSize {
                state.sealed.append(state.open)
                state.open = Batch(bytes: state.spare.popLast() ?? [], count: 0)
            }
        }
    }

    /// Every batch queued (the open one too), and how many spans were dropped since the last take.
    func takeBatches() -> (batches: [Batch], dropped: Int) {
        state.withLock { state in
            var batches = state.sealed
            state.sealed = []
            if state.open.count > 0 {
                batches.append(state.open)
                state.open = Batch(bytes: state.spare.popLast() ?? [], count: 0)
            }
            let dropped = state.dropped
            state.queued = 0
            state.dropped = 0
            return (batches, dropped)
        }
    }

    /// Gives sent batches' buffers back (emptied, their capacity kept): a megabyte allocated
    /// afresh five times a second costs the worker thousands of page faults a second.
    func recycle(_ batches: [Batch]) {
        var buffers = batches.map(\.bytes)
        for index in buffers.indices { buffers[index].removeAll(keepingCapacity: true) }
        state.withLock { state in
            state.spare += buffers.prefix(max(0, 4 - state.spare.count))
        }
    }
}
