import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO

public struct SuppressionRecord: Encodable, Sendable {
    public let id: String
    public let email: String
    public let reason: String
    public let detail: String?
    public let created_at: Date
}

/// The organization's suppression list: addresses no sequence email may go to. Kept apart from
/// reminders (which go to the team, never the contact) and never deleting history.
public struct SuppressionStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    public static let reasons = ["unsubscribed", "bounced", "complained", "manual"]
    package static let columns = "id, address, reason, detail, created_at"

    package static func record(_ row: PostgresRow) throws -> SuppressionRecord {
        let (id, address, reason, detail, created) = try row.decode((String, String, String, String?, Date).self)
        return SuppressionRecord(id: id, email: address, reason: reason, detail: detail, created_at: created)
    }

    package static func exitReason(_ reason: String) -> ExitReason {
        switch reason {
        case "unsubscribed": return .unsubscribed
        case "bounced": return .bounced
        case "complained": return .complained
        default: return .suppressed
        }
    }

    /// Adds the address (once) and exits its running enrollments with the matching reason.
    /// Returns the suppression, whether it is new, and the enrollments it ended.
    package static func suppress(
        org: String, address: String, reason: String, detail: String?, now: Date,
        _ conn: PostgresConnection, logger: Logger
    ) async throws -> (SuppressionRecord, created: Bool, exited: [String]) {
        let key = Mailbox.key(address)
        let inserted = try await conn.query(
            """
            INSERT INTO suppressions (org_id, id, address_key, address, reason, detail, created_at)
            VALUES (\(org), \(ID.make(.sup)), \(key), \(address), \(reason), \(detail), \(now))
            ON CONFLICT (org_id, address_key) DO NOTHING RETURNING \(unescaped: columns)
            """, logger: logger
        ).collect().first.map(record)
        let record: SuppressionRecord
        if let inserted {
            record = inserted
            try await Events.append(
                [
                    PendingEvent(
                        org: org, type: .suppressionCreated,
                        ["suppression_id": .string(inserted.id), "email": .string(address), "reason": .string(reason)])
                ],
                at: now, on: conn, logger: logger)
        } else {
            record = try await conn.query(
                "SELECT \(unescaped: columns) FROM suppressions WHERE org_id = \(org) AND address_key = \(key)", logger: logger
            )
            .collect().first.map(Self.record)!
        }
        let exited = try await EnrollmentStore.finish(
            org: org, recipientKey: key, state: .exited, reason: exitReason(reason),
            detail: detail ?? "address suppressed (\(reason))", now: now, conn, logger: logger)
        return (record, inserted != nil, exited)
    }

    /// What a one-click unsubscribe did.
    package enum UnsubscribeOutcome: Sendable { case suppressed, liftedByAdmin }

    /// A one-click unsubscribe with the link whose token hashes to `digest`. If an admin removed
    /// the address's suppression after this same link was used, posting it again changes nothing
    /// unless the person confirmed on the link's page after that removal (`confirmedAt`).
    package func unsubscribe(org: String, address: String, digest: [UInt8], confirmedAt: Date?, detail: String, now: Date) async throws
        -> UnsubscribeOutcome
    {
        try await db.tenant(org) { conn in
            let digest = ByteBuffer(bytes: digest)
            let lifted =
                try await conn.query("SELECT lifted_at FROM unsubscribe_uses WHERE org_id = \(org) AND token_digest = \(digest)", logger: logger)
                .decode(Date?.self).collect().first ?? nil
            if let lifted, (confirmedAt ?? .distantPast) < lifted { return .liftedByAdmin }
            _ = try await Self.suppress(org: org, address: address, reason: "unsubscribed", detail: detail, now: now, conn, logger: logger)
            try await conn.query(
                """
                INSERT INTO unsubscribe_uses (org_id, token_digest, address_key, used_at) VALUES (\(org), \(digest), \(Mailbox.key(address)), \(now))
                ON CONFLICT (org_id, token_digest) DO UPDATE SET used_at = EXCLUDED.used_at, lifted_at = NULL
                """, logger: logger)
            return .suppressed
        }
    }

    public func create(org: String, address: String, reason: String, detail: String?, now: Date) async throws -> (SuppressionRecord, Bool) {
        try await db.tenant(org) { conn in
            let (r, created, _) = try await Self.suppress(org: org, address: address, reason: reason, detail: detail, now: now, conn, logger: logger)
            return (r, created)
        }
    }

    public func list(org: String, email: String?, page: PageRequest) async throws -> Page<SuppressionRecord> {
        let key = email.map(Mailbox.key)
        let rows = try await db.tenant(org) { conn in
            try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM suppressions WHERE org_id = \(org) AND (\(key)::text IS NULL OR address_key = \(key))
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger
            ).collect().map(Self.record)
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    public func get(org: String, id: String) async throws -> SuppressionRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT \(unescaped: Self.columns) FROM suppressions WHERE org_id = \(org) AND id = \(id)", logger: logger).collect()
                .first.map(Self.record)
        }
    }

    /// Lifting a suppression lets future sends through; enrollments it ended stay ended.
    public func delete(org: String, id: String, now: Date) async throws -> SuppressionRecord? {
        try await db.tenant(org) { conn in
            guard
                let r = try await conn.query(
                    "DELETE FROM suppressions WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger
                )
                .collect().first.map(Self.record)
            else { return nil }
            try await conn.query(
                """
                UPDATE unsubscribe_uses SET lifted_at = \(now) WHERE org_id = \(org) AND address_key = \(Mailbox.key(r.email)) AND lifted_at IS NULL
                """, logger: logger)
            try await Events.append(
                [PendingEvent(org: org, type: .suppressionDeleted, ["suppression_id": .string(r.id), "email": .string(r.email)])],
                at: now, on: conn, logger: logger)
            return r
        }
    }

    package init(db: Database) {
        self.db = db
    }
}
