import Logging
import NudgeCore
import NudgeHTTP
import NudgeMCP
import NudgeWorkers

extension MCPEndpoint {
    /// The endpoint for the routes registered so far, with input schemas from the served OpenAPI
    /// document; nil (no `/mcp`, logged) when the document cannot be read or does not describe
    /// every routed operation.
    static func make(services: NudgeServices, routes: RouteTable, limiter: RateLimiter?) -> MCPEndpoint? {
        do {
            let schemas = try OpenAPISchemas(contentsOf: services.config.openAPIPath)
            let registry = try ToolRegistry(operations: routes.operations, schemas: schemas)
            return MCPEndpoint(registry: registry, secret: services.config.secret, limiter: limiter, clock: services.clock)
        } catch {
            services.logger.error("MCP endpoint disabled", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
