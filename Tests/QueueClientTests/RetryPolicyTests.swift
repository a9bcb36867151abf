import Foundation
import QueueClient
import RedisClient
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("the ceiling doubles from the base up to the cap; delays are jittered within it")
    func backoff() {
        let policy = RetryPolicy(base: .seconds(5), cap: .seconds(600))
        #expect(policy.ceiling(afterAttempt: 1) == .seconds(5))
        #expect(policy.ceiling(afterAttempt: 2) == .seconds(10))
        #expect(policy.ceiling(afterAttempt: 5) == .seconds(80))
        #expect(policy.ceiling(afterAttempt: 8) == .seconds(600))
        #expect(policy.ceiling(afterAttempt: 500) == .seconds(600))
        var delays = Set<Duration>()
        for _ in 0..<200 {
            let delay = policy.delay(afterAttempt: 3)
            #expect(delay >= .zero && delay <= .seconds(20))
            delays.insert(delay)
        }
        #expect(delays.count > 50, "full jitter spreads retries")
    }
}
