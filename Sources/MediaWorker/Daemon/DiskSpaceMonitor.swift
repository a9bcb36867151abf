import Logging
import Metrics
import ServiceLifecycle

/// Keeps `/readyz` false while the jobs' temp folder has less free space than `minimumFree`, so
/// a load balancer or orchestrator stops counting on this worker before its downloads fail.
public struct DiskSpaceMonitor: Service {
    let workspace: JobWorkspace
    let readiness: ReadinessState
    let minimumFree: Int64
    let logger: Logger
    let interval: Duration

    public init(workspace: JobWorkspace, readiness: ReadinessState, minimumFree: Int64, logger: Logger, interval: Duration = .seconds(2)) {
        self.workspace = workspace
        self.readiness = readiness
        self.minimumFree = minimumFree
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        let free = Gauge(label: "mw_temp_free_bytes")
        var wasOK: Bool?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let bytes = workspace.freeBytes
            free.record(bytes)
            let ok = bytes >= minimumFree
            readiness.setDisk(ok: ok, detail: ok ? nil : "WORKER_DISK_FULL: \(bytes) bytes free under \(workspace.root), \(minimumFree) wanted")
            if ok != wasOK {
                if !ok { logger.warning("temp disk nearly full", metadata: ["free_bytes": "\(bytes)", "minimum": "\(minimumFree)"]) }
                wasOK = ok
            }
            try? await Task.sleep(for: interval)
        }
    }
}
