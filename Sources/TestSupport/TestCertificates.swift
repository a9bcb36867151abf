import Foundation

/// A private certificate authority for TLS tests, made with the openssl CLI: a CA, a server
/// certificate for 127.0.0.1 and `localhost` signed by it, a client certificate signed by it, and
/// a second, unrelated CA (the "wrong CA" a client must refuse).
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caCertificate: String { path("ca.crt") }
    public var serverCertificate: String { path("server.crt") }
    public var serverKey: String { path("server.key") }
    public var clientCertificate: String { path("client.crt") }
    public var clientKey: String { path("client.key") }
    public var otherCACertificate: String { path("other-ca.crt") }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    public static func make() async throws -> TestCertificates {
        let openssl = try ProjectPaths.tool("openssl", package: "openssl")
        let certificates = TestCertificates(directory: try makeTestDirectory("certs"))
        let dir = certificates.directory.path
        func run(_ arguments: [String]) async throws {
            let result = try await CommandRunner.run(openssl, arguments, directory: dir, timeout: .seconds(60))
            guard result.succeeded else { throw TestEnvironmentError.serverFailed(name: "openssl \(arguments.first ?? "")", detail: result.stderr) }
        }
        for ca in ["ca", "other-ca"] {
            try await run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=MediaWorker test \(ca)",
                           "-keyout", "\(ca).key", "-out", "\(ca).crt"])
        }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:redis.test\n".write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=mediaworker")] {
            try await run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", "\(name).key", "-out", "\(name).csr"])
            try await run(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                           "-extfile", "\(name).ext", "-out", "\(name).crt"])
        }
        return certificates
    }
}
