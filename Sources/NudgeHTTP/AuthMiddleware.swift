import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers
import Synchronization

/// Authenticates `Authorization: Bearer …` and stores the token on the context; the tenant
/// context built next refuses requests without one.
package struct AuthMiddleware: RouterMiddleware {
    package typealias Context = AppContext
    package let authenticator: TokenAuthenticator
    package let limiter: RateLimiter?

    package func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var context = context
        // A request the MCP endpoint dispatches in process for a tool call carries the token that
        // `/mcp` authenticated (a request off the wire never has one here); it is rate-limited
        // here, once, like any API request (`/mcp` itself authenticates without the limiter).
        let token: AuthenticatedToken
        if let preset = context.token {
            token = preset
        } else {
            guard let header = request.headers[.authorization] else { throw NudgeError.unauthorized }
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw NudgeError.unauthorized }
            token = try await authenticator.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces))
            context.token = token
        }
        guard let limiter else { return try await next(request, context) }
        let remaining = try limiter.take(token.tokenID)
        var response = try await next(request, context)
        response.headers[HTTPField.Name("RateLimit-Limit")!] = String(Int(limiter.burst))
        response.headers[HTTPField.Name("RateLimit-Remaining")!] = String(remaining)
        return response
    }

    package init(authenticator: TokenAuthenticator, limiter: RateLimiter?) {
        self.authenticator = authenticator
        self.limiter = limiter
    }
}
