import Hummingbird
import Logging
import QueueClient
import RedisClient

/// Turns what a handler throws into an answer a person can read, and logs it: a refused
/// request value is a 400, Redis out of reach a 503; nothing reaches the client as a stack trace
/// or a bare 500 without a line in the log.
struct DashboardErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as DashboardInputError {
            return DashboardResponse.text("bad request: \(error)", status: .badRequest)
        } catch let error as HTTPError {
            // Hummingbird's own: not found, body too large, bad method.
            return DashboardResponse.text(error.status.reasonPhrase, status: error.status)
        } catch let error as RedisError {
            logger.error("dashboard: redis failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return DashboardResponse.text("Redis is not reachable just now: try again", status: .serviceUnavailable)
        } catch {
            logger.error("dashboard: request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return DashboardResponse.text("the request could not be answered (logged as 'dashboard: request failed')", status: .internalServerError)
        }
    }
}
