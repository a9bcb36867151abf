import Foundation

/// A minimal HTTP GET (Connection: close) over a loopback socket: enough to check the daemon's health
/// endpoints without a client library that could hide what the server really sent.
public enum HTTPProbe {
    public struct Response: Sendable {
        public let status: Int
        public let body: String
    }

    public static func get(port: Int, path: String) throws -> Response {
        try request("GET", port: port, path: path)
    }

    /// One request with an optional body (Content-Length), Connection: close.
    public static func request(_ method: String, port: Int, path: String, body: String = "") throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestEnvironmentError.serverFailed(name: "http", detail: "socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw TestEnvironmentError.serverFailed(name: "http on port \(port)", detail: "connection refused") }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first,
              let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw TestEnvironmentError.serverFailed(name: "http on port \(port)", detail: "no HTTP status line in '\(text.prefix(100))'")
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Response(status: status, body: body)
    }
}
