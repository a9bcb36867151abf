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
        // Encoded outside the lock: other threads ending spans do not wait for it, and an
        // attribute's `description` (arbitrary code) never runs under the lock.
        var encoded = ProtobufWriter(capacity: 512)
        encoded.message(2) { OTLPTraceEncoder.encode(span, into: &$0) }
        state.withLock { state in
            guard state.queued < capacity else {
                state.dropped += 1
                return
            }
            state.open.bytes += encoded.bytes
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

    /// Takes sent batches' buffers back (moved out of `batches`, emptied, their capacity kept):
    /// a megabyte allocated afresh five times a second costs the worker thousands of page faults.
    func recycle(_ batches: inout [Batch]) {
        var buffers: [[UInt8]] = []
        for index in batches.indices.prefix(4) {
            var buffer: [UInt8] = []
            swap(&buffer, &batches[index].bytes)
            buffer.removeAll(keepingCapacity: true)
            buffers.append(buffer)
        }
        batches = []
        state.withLock { state in
            state.spare += buffers.prefix(max(0, 4 - state.spare.count))
        }
    }
}
