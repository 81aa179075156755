import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// The domains an operator lets an organization send from (`nudge domain`). A new inbox's address
/// must be on one of them, or on a domain the organization verified, unless the server allows any.
public struct SenderDomainStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    public enum RemoveOutcome: Sendable {
        case removed, notFound
        case inUse(inboxes: Int)
    }

    public static func normalized(_ domain: String) -> String { domain.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) }

    /// Allowed by an operator (`nudge domain allow`), or verified by the organization through DNS
    /// (`POST /v1/domains/`, DomainStore).
    package static func isAllowed(org: String, domain: String, _ conn: PostgresConnection, logger: Logger) async throws -> Bool {
        let d = normalized(domain)
        if try await !conn.query("SELECT 1 FROM sender_domains WHERE org_id = \(org) AND domain = \(d)", logger: logger).collect().isEmpty {
            return true
        }
        return try await DomainStore.isVerified(org: org, domain: d, conn, logger: logger)
    }

    /// Allows `domain` for `org`; false when there is no such organization.
    public func allow(org: String, domain: String, now: Date) async throws -> Bool {
        try await db.system { conn in
            guard try await !conn.query("SELECT 1 FROM orgs WHERE id = \(org)", logger: logger).collect().isEmpty else { return false }
            try await conn.query(
                """
                INSERT INTO sender_domains (org_id, domain, created_at) VALUES (\(org), \(Self.normalized(domain)), \(now)) ON CONFLICT DO NOTHING
                """, logger: logger)
            return true
        }
    }

    public func list(org: String) async throws -> [String] {
        try await db.system { conn in
            try await conn.query("SELECT domain FROM sender_domains WHERE org_id = \(org) ORDER BY domain", logger: logger).decode(String.self)
                .collect()
        }
    }

    /// Removes `domain` unless an inbox of the organization sends from it.
    public func remove(org: String, domain: String) async throws -> RemoveOutcome {
        let d = Self.normalized(domain)
        return try await db.system { conn in
            let using =
                try await conn.query(
                    """
                    SELECT count(*)::int FROM inboxes WHERE org_id = \(org) AND lower(split_part(address, '@', 2)) = \(d)
                    """, logger: logger
                ).decode(Int.self).collect().first ?? 0
            guard using == 0 else { return .inUse(inboxes: using) }
            let rows = try await conn.query("DELETE FROM sender_domains WHERE org_id = \(org) AND domain = \(d) RETURNING 1", logger: logger)
                .collect()
            return rows.isEmpty ? .notFound : .removed
        }
    }

    package init(db: Database) {
        self.db = db
    }
}
