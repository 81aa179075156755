import Hummingbird

/// Every authenticated API request goes through the database: fail fast while it is down.
struct DatabaseGate<Context: RequestContext>: RouterMiddleware {
    let health: DatabaseHealth
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await health.failFast { try await next(request, context) }
    }
}
