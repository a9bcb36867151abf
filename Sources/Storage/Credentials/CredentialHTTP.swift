import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The small HTTP calls credential sources make (STS, the container endpoint, instance
/// metadata): short timeouts, bounded answers, no redirects.
enum CredentialHTTP {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(5))
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    struct Answer {
        let status: Int
        let body: Data
    }

    static func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil,
                     source: String) async throws(StorageError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), body: Data(buffer: bytes))
        } catch {
            throw StorageError.credentials(source, "\(url) unreachable (\(type(of: error)))")
        }
    }
}

extension Date {
    /// An ISO 8601 time as AWS writes expirations (with or without fractional seconds).
    init?(awsTimestamp text: String) {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) {
            self = date
            return
        }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = fractional.date(from: text) else { return nil }
        self = date
    }
}
