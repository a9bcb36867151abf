import Synchronization

/// Wakes one waiting task early; a ring with nobody waiting is kept for the next wait.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func ring() {
        state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume()
            } else {
                state.rung = true
            }
        }
    }

    /// Returns at the next ring (or a kept one), after `timeout`, or when cancelled.
    func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await Task.sleep(for: timeout) }
            race.addTask { await self.nextRing() }
            await race.next()
            race.cancelAll()
        }
    }

    private func nextRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                state.withLock { state in
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        continuation.resume()
                    } else {
                        state.waiter = continuation
                    }
                }
            }
        } onCancel: {
            state.withLock { state in
                state.waiter?.resume()
                state.waiter = nil
            }
        }
    }
}
