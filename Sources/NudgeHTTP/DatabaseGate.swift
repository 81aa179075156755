import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Every authenticated API request goes through the database: fail fast while it is down.
package struct DatabaseGate<Context: RequestContext>: RouterMiddleware {
    package let health: DatabaseHealth
    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await health.failFast { try await next(request, context) }
    }

    package init(health: DatabaseHealth) {
        self.health = health
    }
}
