import Metrics
import Synchronization

/// The per-job counters and timer, made once per (type, outcome): asking the metrics
/// factory for them on every job showed up in the queue benchmark's profile.
final class JobMetrics: Sendable {
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    func count(_ label: String, type: String, outcome: String? = nil) {
        let key = label + "|" + type + "|" + (outcome ?? "")
        let counter = counters.withLock { cache in
            if let existing = cache[key] { return existing }
            var dimensions = [("type", type)]
            if let outcome { dimensions.append(("outcome", outcome)) }
            let made = Counter(label: label, dimensions: dimensions)
            cache[key] = made
            return made
        }
        counter.increment()
    }

    func recordDuration(_ duration: Duration, type: String) {
        let timer = timers.withLock { cache in
            if let existing = cache[type] { return existing }
            let made = Timer(label: "mw_job_duration_seconds", dimensions: [("type", type)], preferredDisplayUnit: .seconds)
            cache[type] = made
            return made
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
