import CRedisTransport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An OpenSSL client context built from `RedisTLSOptions`: trust store, client certificate,
/// verification on. Built once per set of options and files (loading a trust store is not free)
/// and shared by every connection using them; OpenSSL allows that across threads. The files are
/// looked at again (`stat`) each time a connection is made: a CA or client certificate rotated
/// at the same paths is used from the next connection on, without a restart. A connection keeps
/// the context it was made with (OpenSSL counts the references).
final class RedisTLSContext: Sendable {
    nonisolated(unsafe) let pointer: OpaquePointer
    let serverName: String?
    /// The files as they were when this context read them.
    let files: FileStamps

    private init(options: RedisTLSOptions, files: FileStamps) throws(RedisError) {
        var message = [CChar](repeating: 0, count: 512)
        guard let pointer = mw_tls_context_new(options.caFile, options.certificateFile, options.keyFile, &message, message.count) else {
            throw .tls(String(cString: message))
        }
        self.pointer = pointer
        serverName = options.serverName
        self.files = files
    }

    deinit { mw_tls_context_free(pointer) }

    private static let cache = Mutex<[RedisTLSOptions: RedisTLSContext]>([:])

    /// The context for these options, rebuilt when one of its files changed since it was built.
    /// Files caught half-written (the new ones do not load) leave the previous context in use
    /// until a later connection finds them whole.
    static func shared(for options: RedisTLSOptions) throws(RedisError) -> RedisTLSContext {
        let stamps = FileStamps(paths: [options.caFile, options.certificateFile, options.keyFile].compactMap { $0 })
        let known = cache.withLock { $0[options] }
        if let known, known.files == stamps { return known }
        let made: RedisTLSContext
        do {
            made = try RedisTLSContext(options: options, files: stamps)
        } catch {
            if let known { return known }
            throw error
        }
        return cache.withLock { contexts in
            if let current = contexts[options], current.files == stamps { return current }
            contexts[options] = made
            return made
        }
    }
}

/// What `stat` says of some files: device, inode, size and modification time each, so a file
/// replaced (renamed over) or rewritten in place is told apart from the one read before.
struct FileStamps: Equatable, Sendable {
    var stamps: [[Int64]]

    init(paths: [String]) {
        stamps = paths.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return [-1] }
            return [Int64(info.st_dev), Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
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
