import Foundation
import QueueClient

/// The jobs this worker runs now: for heartbeats, stop requests, slots and `/status`.
actor RunningJobs {
    struct Entry: Sendable {
        let delivery: Delivery
        let signal: StopSignal
        let started: Date
    }

    private var entries: [String: Entry] = [:]
    private var slotWaiters: [CheckedContinuation<Void, Never>] = []
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when draining starts: nobody waits for a slot any more.
    private var closed = false

    /// Per delivery, not per job: a job whose lease expired may come back to this worker while
    /// the old delivery still unwinds, and the two must not overwrite each other.
    static func key(_ delivery: Delivery) -> String { delivery.queue + "/" + delivery.id + "#" + delivery.token }

    var count: Int { entries.count }
    var all: [Entry] { Array(entries.values) }

    func add(_ delivery: Delivery, signal: StopSignal) {
        entries[Self.key(delivery)] = Entry(delivery: delivery, signal: signal, started: Date())
    }

    /// A lane moves on to its next job without giving up its slot.
    func replace(_ finished: Delivery, with next: Delivery, signal: StopSignal) {
        entries[Self.key(finished)] = nil
        entries[Self.key(next)] = Entry(delivery: next, signal: signal, started: Date())
    }

    func remove(_ delivery: Delivery) {
        entries[Self.key(delivery)] = nil
        let waiters = slotWaiters
        slotWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        if entries.isEmpty {
            let waiters = emptyWaiters
            emptyWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    func stopAll(_ reason: StopReason) {
        for entry in entries.values { entry.signal.stop(reason) }
    }

    /// Returns once fewer than `limit` jobs run, or at once after `wakeWaiters`.
    func waitForSlot(limit: Int) async {
        guard entries.count >= limit, !closed else { return }
        await withCheckedContinuation { slotWaiters.append($0) }
    }

    /// Wakes whoever waits for a slot, now and later (draining has started).
    func wakeWaiters() {
        closed = true
        let waiters = slotWaiters
        slotWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no job runs.
    func waitUntilEmpty() async {
        guard !entries.isEmpty else { return }
        await withCheckedContinuation { emptyWaiters.append($0) }
    }
}
