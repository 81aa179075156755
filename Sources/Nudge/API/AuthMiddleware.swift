import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Resolves bearer tokens. Lookups are cached for a few seconds (revocation in this process is
/// immediate; other processes see it within `ttl`), and `last_used_at` is collected in memory and
/// written in one statement per flush instead of a write per request.
public final class TokenAuthenticator: Sendable {
    struct Entry { let token: AuthenticatedToken?; let fetched: Date }

    let db: Database
    let clock: any NudgeClock
    let ttl: TimeInterval
    private let cache = Mutex<[[UInt8]: Entry]>([:])
    private let used = Mutex<[String: (org: String, at: Date)]>([:])

    public init(db: Database, clock: any NudgeClock, ttl: TimeInterval = 5) {
        self.db = db
        self.clock = clock
        self.ttl = ttl
    }

    public func authenticate(_ secret: String) async throws -> AuthenticatedToken {
        guard TokenSecret.isWellFormed(secret) else { throw APIError.unauthorized }
        let hash = TokenSecret.hash(secret)
        let now = clock.now()
        let wall = Date()
        var found = cache.withLock { c -> AuthenticatedToken?? in
            guard let e = c[hash], wall.timeIntervalSince(e.fetched) < ttl else { return .none }
            return .some(e.token)
        }
        if found == nil {
            let row = try await db.system { conn in
                try await conn.query("""
                    SELECT org_id, id, name, scopes, expires_at, revoked_at FROM tokens WHERE secret_hash = \(ByteBuffer(bytes: hash))
                    """, logger: self.db.logger).decode((String, String, String, [String], Date?, Date?).self).first { _ in true }
            }
            var token: AuthenticatedToken?
            if let (org, id, name, scopes, expires, revoked) = row, revoked == nil {
                token = AuthenticatedToken(orgID: org, tokenID: id, name: name, scopes: ScopeSet(scopes.compactMap(Scope.init(rawValue:))), expiresAt: expires)
            }
            cache.withLock { $0[hash] = Entry(token: token, fetched: wall) }
            found = .some(token)
        }
        guard let token = found ?? nil else { throw APIError.unauthorized }
        if let exp = token.expiresAt, exp <= now { throw APIError.unauthorized }
        used.withLock { $0[token.tokenID] = (token.orgID, now) }
        return token
    }

    /// Forget cached lookups of a token (after revoke or a scope change).
    public func invalidate(tokenID: String) {
        cache.withLock { c in c = c.filter { $0.value.token?.tokenID != tokenID } }
    }

    /// Writes the collected `last_used_at` values in one statement.
    public func flushUsage() async throws {
        let batch = used.withLock { u -> [String: (org: String, at: Date)] in defer { u = [:] }; return u }
        guard !batch.isEmpty else { return }
        let ids = Array(batch.keys)
        let orgs = ids.map { batch[$0]!.org }
        let times = ids.map { batch[$0]!.at }
        try await db.system { conn in
            try await conn.query("""
                UPDATE tokens t SET last_used_at = GREATEST(t.last_used_at, u.at)
                FROM unnest(\(orgs)::text[], \(ids)::text[], \(times)::timestamptz[]) AS u(org_id, id, at)
                WHERE t.org_id = u.org_id AND t.id = u.id
                """, logger: self.db.logger)
        }
    }
}

/// Authenticates `Authorization: Bearer …` and stores the token on the context; the tenant
/// context built next refuses requests without one.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let authenticator: TokenAuthenticator
    let limiter: RateLimiter?

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.unauthorized }
        var context = context
        let token = try await authenticator.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces))
        context.token = token
        guard let limiter else { return try await next(request, context) }
        let remaining = try limiter.take(token.tokenID)
        var response = try await next(request, context)
        response.headers[HTTPField.Name("RateLimit-Limit")!] = String(Int(limiter.burst))
        response.headers[HTTPField.Name("RateLimit-Remaining")!] = String(remaining)
        return response
    }
}
