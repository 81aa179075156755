import NudgeCore
import NudgeHTTP
import NudgeMCP
import NudgeWorkers

extension MCPEndpoint {
    /// The endpoint for the routes registered so far, with input schemas from the served OpenAPI
    /// document. A document that cannot be read or does not describe every routed operation stops
    /// the start (`nudge serve` exits with the reason) rather than serving without `/mcp`.
    static func make(services: NudgeServices, routes: RouteTable, limiter: RateLimiter?) throws -> MCPEndpoint {
        do {
            let schemas = try OpenAPISchemas(contentsOf: services.config.openAPIPath)
            let registry = try ToolRegistry(operations: routes.operations, schemas: schemas)
            return MCPEndpoint(registry: registry, secret: services.config.secret, limiter: limiter, clock: services.clock)
        } catch {
            throw MCPSetupError(description: "MCP tools cannot be built (NUDGE_OPENAPI_PATH \(services.config.openAPIPath)): \(error)")
        }
    }
}

/// Why `/mcp`, and so the server, could not start.
public struct MCPSetupError: Error, CustomStringConvertible {
    public let description: String
}
