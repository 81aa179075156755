import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

/// A kept answer to an `Idempotency-Key`: the request's hash and, once it finished, its status
/// and sealed body.
package struct IdempotencyRecord: Sendable {
    package let requestHash: String
    package let status: Int?
    package let sealedResponse: ByteBuffer?
}

/// Owns `idempotency_keys` (per organization, token and key; kept 24 hours).
package struct IdempotencyStore: Sendable {
    package static let lifetime: TimeInterval = 86_400

    package let db: Database
    package var logger: Logger { db.logger }

    package init(db: Database) { self.db = db }

    /// Claims the key for this request: a new key, or one whose answer expired or whose request
    /// was abandoned (no answer after `staleAfter`). False when another request holds it.
    package func claim(org: String, token: String, key: String, requestHash: String, now: Date, staleAfter: TimeInterval) async throws -> Bool {
        try await db.tenant(org) { [logger] conn in
            let rows = try await conn.query(
                """
                INSERT INTO idempotency_keys (org_id, token_id, key, request_hash, created_at) VALUES (\(org), \(token), \(key), \(requestHash), \(now))
                ON CONFLICT (org_id, token_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL, response_body = NULL, created_at = EXCLUDED.created_at
                  WHERE idempotency_keys.created_at < \(now.addingTimeInterval(-Self.lifetime))
                     OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < \(now.addingTimeInterval(-staleAfter)))
                RETURNING 1
                """, logger: logger
            ).collect()
            return !rows.isEmpty
        }
    }

    package func find(org: String, token: String, key: String) async throws -> IdempotencyRecord? {
        try await db.tenant(org) { [logger] conn in
            try await conn.query(
                "SELECT request_hash, status, response_body FROM idempotency_keys WHERE org_id = \(org) AND token_id = \(token) AND key = \(key)",
                logger: logger
            )
            .decode((String, Int?, ByteBuffer?).self).collect().first
            .map { IdempotencyRecord(requestHash: $0.0, status: $0.1, sealedResponse: $0.2) }
        }
    }

    package func keep(org: String, token: String, key: String, status: Int, sealedResponse: ByteBuffer) async throws {
        try await db.tenant(org) { [logger] conn in
            try await conn.query(
                """
                UPDATE idempotency_keys SET status = \(status), response_body = \(sealedResponse) WHERE org_id = \(org) AND token_id = \(token) AND key = \(key)
                """, logger: logger)
        }
    }

    /// Gives up an unanswered claim, so that a retry runs the request.
    package func release(org: String, token: String, key: String) async throws {
        try await db.tenant(org) { [logger] conn in
            try await conn.query(
                "DELETE FROM idempotency_keys WHERE org_id = \(org) AND token_id = \(token) AND key = \(key) AND status IS NULL", logger: logger)
        }
    }

    /// Forgets keys older than their lifetime.
    package func purge(now: Date) async throws {
        try await db.system { [logger] conn in
            try await conn.query("DELETE FROM idempotency_keys WHERE created_at < \(now.addingTimeInterval(-Self.lifetime))", logger: logger)
        }
    }
}
