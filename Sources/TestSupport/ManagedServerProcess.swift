import Foundation
import Synchronization

/// A server process started for a test, bound to the test process's life through
/// scripts/test/bound-to-parent.sh: stopped by `stop()`, and also when the test process
/// dies in any way (SIGKILL included), so no server outlives its test.
public final class ManagedServerProcess: Sendable {
    public let name: String
    /// The server's working directory (a temp dir named mw-test-*), holding its log.
    public let directory: URL
    public var logURL: URL { directory.appendingPathComponent("\(name).log") }
    private let wrapper: ChildProcess

    /// `parentPID` is the process whose death stops the server: this test process by default.
    public init(
        name: String, executable: String, arguments: [String], environment: [String: String] = [:],
        directory: URL, parentPID: pid_t = getpid()
    ) throws {
        self.name = name
        self.directory = directory
        let script = ProjectPaths.scripts.appendingPathComponent("test/bound-to-parent.sh").path
        wrapper = try ChildProcess.spawn(
            "/bin/bash", [script, String(parentPID), executable] + arguments, environment: environment,
            directory: directory.path, stdout: directory.appendingPathComponent("\(name).log").path)
    }

    public var isRunning: Bool { wrapper.isRunning }

    /// The server's own pid (the wrapper's child), for tests that signal it directly.
    public var serverPID: pid_t? {
        let children = (try? String(contentsOfFile: "/proc/\(wrapper.pid)/task/\(wrapper.pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { pid_t($0) }.first
    }

    /// Whether `pid` is this server (a child of its wrapper): another test's server may answer on
    /// a port this one failed to bind.
    public func owns(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 1 else { return false }
        return pid_t(fields[1]) == wrapper.pid
    }

    /// Whether this server (a child of its wrapper) holds the socket listening on 127.0.0.1:`port`:
    /// something accepting there may be another test's server that took the port first.
    public func listens(on port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let local = String(format: ":%04X", port)
        var inodes: Set<Substring> = []
        for line in table.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st ... inode: a LISTEN socket (st 0A) on the port
            let fields = line.split(separator: " ")
            if fields.count > 9, fields[1].hasSuffix(local), fields[3] == "0A" { inodes.insert(fields[9]) }
        }
        guard !inodes.isEmpty else { return false }
        let children = (try? String(contentsOfFile: "/proc/\(wrapper.pid)/task/\(wrapper.pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ") {
            let folder = "/proc/\(child)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + fd),
                      link.hasPrefix("socket:[") else { continue }
                if inodes.contains(link.dropFirst(8).dropLast()) { return true }
            }
        }
        return false
    }

    /// The last lines of the server's log, for failure messages.
    public func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s, by the wrapper) and waits for it.
    public func stop() async {
        wrapper.signal(SIGTERM)
        if await wrapper.wait(timeout: .seconds(8)) == nil {
            if let server = serverPID { kill(server, SIGKILL) }
            wrapper.signal(SIGKILL)
            await wrapper.wait(timeout: .seconds(2))
        }
    }
}

/// Free loopback ports and readiness checks.
public enum LoopbackPort {
    /// A port held bound but not listening: connecting to it is refused, and no other server
    /// (another test's) can take it until `release()`. For tests of an endpoint that is down.
    public final class Refusing: Sendable {
        public let port: Int
        private let fd: Mutex<Int32?>

        public init() throws {
            // Close-on-exec: a worker the test starts must not inherit (and keep) the port.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw TestEnvironmentError.serverFailed(name: "socket", detail: String(cString: strerror(errno))) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else {
                close(fd)
                throw TestEnvironmentError.serverFailed(name: "socket", detail: String(cString: strerror(errno)))
            }
            self.fd = Mutex(fd)
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { release() }

        /// Lets a server of the test bind the port now.
        public func release() {
            fd.withLock { held in
                if let open = held { close(open) }
                held = nil
            }
        }
    }

    /// A port nothing listens on right now (the kernel's choice for port 0).
    public static func free() throws -> Int {
        let held = try Refusing()
        defer { held.release() }
        return held.port
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A fresh temp dir named mw-test-<what>-<random>.
public func makeTestDirectory(_ what: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mw-test-\(what)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` with a fresh test directory (its path), removed afterwards.
public func withTestDirectory(_ what: String, _ body: (String) async throws -> Void) async throws {
    let directory = try makeTestDirectory(what)
    defer { try? FileManager.default.removeItem(at: directory) }
    try await body(directory.path)
}
