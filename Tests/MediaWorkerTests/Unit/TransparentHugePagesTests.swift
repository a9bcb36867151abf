import Foundation
import Testing

@testable import MediaWorker

#if os(Linux)
@Suite("transparent huge pages")
struct TransparentHugePagesTests {
    /// The kernel's own word on this process: the THP_enabled line of /proc/self/status (Linux 5.0 on).
    func enabled() throws -> Bool {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("THP_enabled:") }, "no THP_enabled in /proc/self/status")
        return line.hasSuffix("1")
    }

    /// Only `kernel` here: turning them off would change the whole test process (the daemon test
    /// reads a started worker's own status for the default, off).
    @Test("MW_TRANSPARENT_HUGE_PAGES=kernel leaves them as the kernel has them")
    func kernelLeavesThem() throws {
        let before = try enabled()
        TransparentHugePages.apply(environment: ["MW_TRANSPARENT_HUGE_PAGES": "kernel"])
        #expect(try enabled() == before)
    }
}
#endif
