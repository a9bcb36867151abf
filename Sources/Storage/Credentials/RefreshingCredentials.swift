import Foundation

/// Temporary credentials, cached and refreshed ahead of their expiry: never in the middle of a
/// request (a request signs with what it got), never once per request under load (one refresh at
/// a time, every caller waiting on it), and a failed refresh keeps the current keys while they
/// still work, trying again on the next request.
public actor RefreshingCredentials: AWSCredentialProvider {
    public nonisolated let source: String
    private let fetch: @Sendable () async throws(StorageError) -> TemporaryCredentials
    /// Refresh this long before the expiry (or at 80 % of a shorter lifetime).
    private let margin: TimeInterval
    private let now: @Sendable () -> Date
    private var current: TemporaryCredentials?
    private var fetchedAt: Date?
    private var refreshing: Task<Result<TemporaryCredentials, StorageError>, Never>?
    /// Fetches made so far (tests count them).
    public private(set) var fetches = 0

    public init(source: String, margin: TimeInterval = 300, now: @escaping @Sendable () -> Date = Date.init,
                fetch: @escaping @Sendable () async throws(StorageError) -> TemporaryCredentials) {
        self.source = source
        self.fetch = fetch
        self.margin = margin
        self.now = now
    }

    public func credentials() async throws(StorageError) -> SigV4Signer.Credentials {
        if let current, !needsRefresh(current) { return current.credentials }
        let task: Task<Result<TemporaryCredentials, StorageError>, Never>
        if let refreshing {
            task = refreshing
        } else {
            let fetch = self.fetch
            task = Task { () -> Result<TemporaryCredentials, StorageError> in
                do throws(StorageError) { return .success(try await fetch()) } catch { return .failure(error) }
            }
            refreshing = task
            fetches += 1
        }
        let result = await task.value
        // The first caller back from this refresh keeps its result (one refresh runs at a time,
        // so it is never older than the keys it replaces).
        if refreshing == task {
            refreshing = nil
            if case .success(let fresh) = result {
                current = fresh
                fetchedAt = now()
            }
        }
        switch result {
        case .success(let fresh):
            return fresh.credentials
        case .failure(let error):
            // Keys that still work are better than none: the next request tries again.
            if let current, let expiration = current.expiration, expiration > now().addingTimeInterval(10) { return current.credentials }
            throw error
        }
    }

    private func needsRefresh(_ credentials: TemporaryCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        let lifetime = expiration.timeIntervalSince(fetchedAt ?? now())
        let lead = min(margin, max(0, lifetime) * 0.2)
        return now() >= expiration.addingTimeInterval(-lead)
    }
}
