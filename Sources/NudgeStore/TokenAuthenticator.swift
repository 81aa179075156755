import Foundation
import NudgeCore
import Synchronization

/// Resolves bearer tokens. Lookups are cached for a few seconds (revocation in this process is
/// immediate; other processes see it within `ttl`), and `last_used_at` is collected in memory and
/// written in one statement per flush instead of a write per request.
public final class TokenAuthenticator: Sendable {
    package struct Entry {
        let token: AuthenticatedToken?
        let fetched: Date
    }

    package let db: Database
    package let clock: any NudgeClock
    package let ttl: TimeInterval
    private let cache = Mutex<[[UInt8]: Entry]>([:])
    private let used = Mutex<[String: (org: String, at: Date)]>([:])

    public init(db: Database, clock: any NudgeClock, ttl: TimeInterval = 5) {
        self.db = db
        self.clock = clock
        self.ttl = ttl
    }

    public func authenticate(_ secret: String) async throws -> AuthenticatedToken {
        guard TokenSecret.isWellFormed(secret) else { throw NudgeError.unauthorized }
        let hash = TokenSecret.hash(secret)
        let now = clock.now()
        let wall = Date()
        var found = cache.withLock { c -> AuthenticatedToken?? in
            guard let e = c[hash], wall.timeIntervalSince(e.fetched) < ttl else { return .none }
            return .some(e.token)
        }
        if found == nil {
            let token = try await TokenStore.lookup(secretHash: hash, db)
            cache.withLock { $0[hash] = Entry(token: token, fetched: wall) }
            found = .some(token)
        }
        guard let token = found ?? nil else { throw NudgeError.unauthorized }
        if let exp = token.expiresAt, exp <= now { throw NudgeError.unauthorized }
        used.withLock { $0[token.tokenID] = (token.orgID, now) }
        return token
    }

    /// Forget cached lookups of a token (after revoke or a scope change).
    public func invalidate(tokenID: String) {
        cache.withLock { c in c = c.filter { $0.value.token?.tokenID != tokenID } }
    }

    /// Forget cached lookups of an organization's tokens (after its default send policy changed).
    public func invalidate(org: String) {
        cache.withLock { c in c = c.filter { $0.value.token?.orgID != org } }
    }

    /// Writes the collected `last_used_at` values in one statement.
    public func flushUsage() async throws {
        let batch = used.withLock { u -> [String: (org: String, at: Date)] in
            defer { u = [:] }
            return u
        }
        guard !batch.isEmpty else { return }
        try await TokenStore.recordUsage(batch, db)
    }
}
