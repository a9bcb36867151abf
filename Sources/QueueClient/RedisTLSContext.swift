import CRedisTransport
import Synchronization

/// An OpenSSL client context built from `RedisTLSOptions`: trust store, client certificate,
/// verification on. Built once per set of options (loading a trust store is not free) and
/// shared by every connection using them; OpenSSL allows that across threads.
final class RedisTLSContext: Sendable {
    nonisolated(unsafe) let pointer: OpaquePointer
    let serverName: String?

    private init(options: RedisTLSOptions) throws(RedisError) {
        var message = [CChar](repeating: 0, count: 512)
        guard let pointer = mw_tls_context_new(options.caFile, options.certificateFile, options.keyFile, &message, message.count) else {
            throw .tls(String(cString: message))
        }
        self.pointer = pointer
        serverName = options.serverName
    }

    deinit { mw_tls_context_free(pointer) }

    private static let cache = Mutex<[RedisTLSOptions: RedisTLSContext]>([:])

    static func shared(for options: RedisTLSOptions) throws(RedisError) -> RedisTLSContext {
        if let known = cache.withLock({ $0[options] }) { return known }
        let made = try RedisTLSContext(options: options)
        return cache.withLock { contexts in
            if let known = contexts[options] { return known }
            contexts[options] = made
            return made
        }
    }
}

extension RedisTLSOptions {
    /// Reads the certificate files now (a missing or bad file throws `.tls`), so a typo is found
    /// at start-up rather than on the first connection.
    public func validate() throws(RedisError) {
        _ = try RedisTLSContext.shared(for: self)
    }
}
