import HTTPTypes
import Hummingbird

/// Registers `/v1` handlers together with the scope each one needs, so no handler can be added
/// without declaring its authorization; the list also feeds the route matrix tests.
public struct ScopedRouter: Sendable {
    let group: RouterGroup<TenantContext>

    public typealias Handler = @Sendable (Request, TenantContext) async throws -> Response

    /// `scopes` are all required. An empty list means "any valid token".
    func on(_ method: HTTPRequest.Method, _ path: String, _ scopes: [Scope], _ handler: @escaping Handler) {
        group.on(RouterPath(path), method: method) { request, context in
            for scope in scopes { try context.require(scope) }
            return try await handler(request, context)
        }
    }
    func get(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.get, path, scopes, handler) }
    func post(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.post, path, scopes, handler) }
    func patch(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.patch, path, scopes, handler) }
    func delete(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.delete, path, scopes, handler) }
}
