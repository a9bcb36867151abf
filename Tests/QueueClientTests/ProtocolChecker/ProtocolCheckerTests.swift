import Foundation
import QueueClient
import RedisClient
import TestSupport
import Testing

/// The queue's protocol, checked: random schedules of workers, janitors, producers and
/// operators with faults at every step, on the real scripts and a real redis-server (see
/// `ProtocolExplorer`). `make test` runs a bounded number of schedules; `make soak` runs for
/// as long as `MW_CHECKER_SECONDS` says. A failure prints the seed that reproduces it
/// (`MW_CHECKER_SEED=<seed>`).
@Suite("Protocol checker")
struct ProtocolCheckerTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    @Test("random schedules with faults keep every invariant")
    func schedules() async throws {
        let fixedSeed = Self.environment["MW_CHECKER_SEED"].flatMap { UInt64($0) }
        let count = Int(Self.environment["MW_CHECKER_SCHEDULES"] ?? "") ?? 120
        let seconds = Double(Self.environment["MW_CHECKER_SECONDS"] ?? "") ?? 0
        let firstSeed = UInt64(Self.environment["MW_CHECKER_FIRST_SEED"] ?? "") ?? 1
        try await RedisServer.with { server in
            let client = RedisClient(url: try RedisURL(parsing: server.url))
            defer { Task { await client.close() } }
            let started = ContinuousClock.now
            var ran = 0
            var steps = 0
            var faults: [String: Int] = [:]
            var seed = fixedSeed ?? firstSeed
            while true {
                let explorer = ProtocolExplorer(seed: seed, client: client)
                do {
                    try await explorer.run()
                } catch {
                    Issue.record("\(explorer.report(error))")
                    return
                }
                ran += 1
                steps += explorer.checks
                faults.merge(explorer.faults, uniquingKeysWith: +)
                _ = try await client.command(["FLUSHDB"])
                if fixedSeed != nil { break }
                seed += 1
                let elapsed = (ContinuousClock.now - started).seconds
                if seconds > 0 ? elapsed >= seconds : ran >= count { break }
            }
            let summary = faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("protocol checker: \(ran) schedules, \(steps) steps checked, faults: \(summary)")
        }
    }
}
