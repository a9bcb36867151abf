/// Runs `body` with `resource`, then `cleanUp`, whether `body` returns or throws: the one shape
/// of every test server's `with`.
func withCleanup<R, T>(_ resource: R, _ body: (R) async throws -> T, cleanUp: (R) async -> Void) async throws -> T {
    let result: T
    do {
        result = try await body(resource)
    } catch {
        await cleanUp(resource)
        throw error
    }
    await cleanUp(resource)
    return result
}
