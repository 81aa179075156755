import Crypto
import Foundation
import NIOCore
import NudgeCore
import PostgresNIO

/// An open console session: the token it was opened with, read again (scopes, revocation,
/// expiry) on every request, and the CSRF token its forms carry.
public struct ConsoleSession: Sendable {
    public let token: AuthenticatedToken
    public let csrf: String
}

/// Owns `console_sessions`. The browser holds only the random session id; the row keeps its
/// SHA-256, so a copy of the table opens no session.
public struct ConsoleSessionStore: Sendable {
    package let db: Database

    public init(db: Database) { self.db = db }

    static func hash(_ id: String) -> ByteBuffer { ByteBuffer(bytes: Array(SHA256.hash(data: Data(id.utf8)))) }

    /// Opens a session for an authenticated token; returns the session id and its CSRF token.
    /// Expired sessions are removed here, so the table does not grow with abandoned ones.
    public func open(_ token: AuthenticatedToken, ttl: TimeInterval, now: Date) async throws -> (id: String, csrf: String) {
        let id = Base62.random(count: 43)
        let csrf = Base62.random(count: 43)
        let expires = min(now.addingTimeInterval(ttl), token.expiresAt ?? .distantFuture)
        let hash = Self.hash(id)
        try await db.system { conn in
            try await conn.query("DELETE FROM console_sessions WHERE expires_at <= \(now)", logger: db.logger)
            try await conn.query(
                """
                INSERT INTO console_sessions (id_hash, org_id, token_id, csrf, created_at, expires_at)
                VALUES (\(hash), \(token.orgID), \(token.tokenID), \(csrf), \(now), \(expires))
                """, logger: db.logger)
        }
        return (id, csrf)
    }

    /// The session of this id if it and its token are still valid.
    public func resolve(_ id: String, now: Date) async throws -> ConsoleSession? {
        guard id.utf8.count == 43, Base62.isBase62(Substring(id)) else { return nil }
        let hash = Self.hash(id)
        let row = try await db.system { conn in
            try await conn.query(
                """
                SELECT t.org_id, t.id, t.name, t.scopes, t.expires_at, s.csrf FROM console_sessions s
                JOIN tokens t ON t.org_id = s.org_id AND t.id = s.token_id
                WHERE s.id_hash = \(hash) AND s.expires_at > \(now) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > \(now))
                """, logger: db.logger
            ).decode((String, String, String, [String], Date?, String).self).first { _ in true }
        }
        guard let (org, tokenID, name, scopes, exp, csrf) = row else { return nil }
        let token = AuthenticatedToken(
            orgID: org, tokenID: tokenID, name: name, scopes: ScopeSet(scopes.compactMap(Scope.init(rawValue:))), expiresAt: exp)
        return ConsoleSession(token: token, csrf: csrf)
    }

    /// Sign-out: the session is gone, whatever cookie a browser still holds.
    public func close(_ id: String) async throws {
        let hash = Self.hash(id)
        try await db.system { conn in
            try await conn.query("DELETE FROM console_sessions WHERE id_hash = \(hash)", logger: db.logger)
        }
    }
}
