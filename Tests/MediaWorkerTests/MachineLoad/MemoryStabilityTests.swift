import Foundation
import TestSupport
import Testing

/// A worker's memory over many jobs: 1,000 consecutive small media jobs in one process; the
/// resident set after the last is within 10 % of what it was after the 100th (no growth per job).
@Suite("Memory over many jobs", .serialized)
struct MemoryStabilityTests {
    static func residentBytes(_ pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }

    @Test("1,000 consecutive probe and thumbnail jobs: RSS after the last within 10 % of after the 100th")
    func thousandJobs() async throws {
        let directory = try makeTestDirectory("memory")
        defer { try? FileManager.default.removeItem(at: directory) }
        let raw = directory.appendingPathComponent("storage/raw")
        try FileManager.default.createDirectory(at: raw, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try ProjectPaths.fixture("short-0.5s.mp4"), toPath: raw.appendingPathComponent("short.mp4").path)
        let input = "file://" + raw.appendingPathComponent("short.mp4").path
        let output = "file://" + directory.appendingPathComponent("storage/out/").path
        try await RedisServer.with { redis in
            let worker = try WorkerProcess.start(redisURL: redis.url, directory: directory, environment: ["MW_CONCURRENCY": "1"])
            defer { worker.process.signal(SIGKILL) }
            #expect(await worker.waitUntilReady(), "\(worker.logText)")
            let probe = try QueueProbe(redisURL: redis.url)
            func push(_ range: Range<Int>) async throws {
                for index in range {
                    // Mostly probes; every tenth job decodes and writes a thumbnail (the codec paths).
                    let job = index % 10 == 9
                        ? #"{"id":"m\#(index)","type":"thumbnails","input":{"url":"\#(input)"},"output":{"url":"\#(output)"},"file_id":"t\#(index % 20)","options":{"count":1,"max_width":96}}"#
                        : #"{"id":"m\#(index)","type":"probe","input":{"url":"\#(input)"}}"#
                    try await probe.push(job)
                }
            }
            try await push(0..<100)
            #expect(await eventually(.seconds(120)) { try await probe.queue.counts().completed == 100 }, "\(worker.logText)")
            let afterHundred = try #require(Self.residentBytes(worker.process.pid))
            try await push(100..<1000)
            let done = await eventually(.seconds(600), every: .milliseconds(250)) { try await probe.queue.counts().completed == 1000 }
            let counts = try? await probe.queue.counts()
            #expect(done, "\(String(describing: counts))")
            let afterThousand = try #require(Self.residentBytes(worker.process.pid))
            let growth = Double(afterThousand - afterHundred) / Double(afterHundred)
            print("memory: RSS \(afterHundred / 1_048_576) MB after 100 jobs, \(afterThousand / 1_048_576) MB after 1,000 (\(String(format: "%+.1f", growth * 100)) %)")
            #expect(growth < 0.10, "RSS grew from \(afterHundred) to \(afterThousand) bytes")
            await probe.queue.client.close()
        }
    }
}
