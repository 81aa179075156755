import HTTPTypes
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers
import Synchronization

/// Registers `/v1` handlers together with the scope each one needs, so no handler can be added
/// without declaring its authorization; the list also feeds the route matrix tests.
public struct ScopedRouter: Sendable {
    package let group: RouterGroup<TenantContext>
    package var routes: RouteTable? = nil
    /// Replays of `Idempotency-Key` requests. It runs inside each route, after the route's scope
    /// check, so that a replay can never answer a caller the route itself would refuse.
    package var idempotency: IdempotencyMiddleware? = nil

    public typealias Handler = @Sendable (Request, TenantContext) async throws -> Response

    /// `scopes` are all required. An empty list means "any valid token".
    package func on(_ method: HTTPRequest.Method, _ path: String, _ scopes: [Scope], _ handler: @escaping Handler) {
        routes?.add(method, path, scopes: scopes)
        let idempotency = self.idempotency
        group.on(RouterPath(path), method: method) { request, context in
            for scope in scopes { try context.require(scope) }
            guard let idempotency else { return try await handler(request, context) }
            return try await idempotency.handle(request, context: context, next: handler)
        }
    }
    package func get(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.get, path, scopes, handler) }
    package func post(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.post, path, scopes, handler) }
    package func patch(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.patch, path, scopes, handler) }
    package func delete(_ path: String, _ scopes: Scope..., handler: @escaping Handler) { on(.delete, path, scopes, handler) }

    package init(group: RouterGroup<TenantContext>, routes: RouteTable? = nil, idempotency: IdempotencyMiddleware? = nil) {
        self.group = group
        self.routes = routes
        self.idempotency = idempotency
    }
}

/// Every routed path with its methods, so that a known path asked with another method answers
/// 405 with `Allow` (RFC 9110 §15.5.6) instead of the router's 404. Filled while routes are
/// registered, read by `ErrorMiddleware`.
public final class RouteTable: Sendable {
    private let routes = Mutex<[(segments: [Substring], methods: Set<HTTPRequest.Method>)]>([])
    private let scoped = Mutex<[Operation]>([])

    /// A `/v1` operation and the scopes it declares: what the MCP tools are generated from.
    package struct Operation: Sendable, Hashable {
        package let method: HTTPRequest.Method
        /// The router's form, `/v1/contacts/:id`.
        package let path: String
        package let scopes: [Scope]
        /// `POST /v1/contacts/{id}/labels`: the OpenAPI document's form.
        package var key: String {
            "\(method.rawValue) "
                + path.split(separator: "/").map { $0.first == ":" ? "{\($0.dropFirst())}" : String($0) }
                .reduce("") { $0 + "/" + $1 }
        }

        package init(method: HTTPRequest.Method, path: String, scopes: [Scope]) {
            self.method = method
            self.path = path
            self.scopes = scopes
        }
    }

    public init() {}

    /// The operations registered through `ScopedRouter`, in registration order.
    package var operations: [Operation] { scoped.withLock { $0 } }

    package func add(_ method: HTTPRequest.Method, _ path: String, scopes: [Scope]? = nil) {
        if let scopes { scoped.withLock { $0.append(Operation(method: method, path: path, scopes: scopes)) } }
        let segments = Self.segments(path)
        routes.withLock { routes in
            if let i = routes.firstIndex(where: { $0.segments == segments }) {
                routes[i].methods.insert(method)
            } else {
                routes.append((segments, [method]))
            }
        }
    }

    /// The methods routed for `path` (a request path), or nil when no route has that path. As in
    /// the router, a literal segment wins over a `:name` one (`/v1/tokens/me` is not
    /// `/v1/tokens/:id`); a trailing slash does not matter.
    package func methods(for path: String) -> Set<HTTPRequest.Method>? {
        let segments = Self.segments(path)
        return routes.withLock { routes in
            var best: (literal: [Bool], methods: Set<HTTPRequest.Method>)?
            for route in routes
            where route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy({ $0.first == ":" || $0 == $1 })
            {
                let literal = route.segments.map { $0.first != ":" }
                guard let b = best else {
                    best = (literal, route.methods)
                    continue
                }
                if literal == b.literal {
                    best = (literal, b.methods.union(route.methods))
                } else if let first = zip(literal, b.literal).first(where: { $0 != $1 }), first.0 {
                    best = (literal, route.methods)  // a literal where the other has a parameter
                }
            }
            return best?.methods
        }
    }

    package static func segments(_ path: String) -> [Substring] {
        path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.split(separator: "/") } ?? []
    }

    /// `Allow` header value: the methods in a fixed order.
    package static func allowHeader(_ methods: Set<HTTPRequest.Method>) -> String {
        let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
        return (order.filter(methods.contains) + methods.filter { !order.contains($0) }.sorted { $0.rawValue < $1.rawValue })
            .map(\.rawValue).joined(separator: ", ")
    }
}
