import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct InboxRecord: Encodable, Sendable {
    public let id: String
    public let address: String
    public let display_name: String?
    public let timezone: String
    public let send_window: SendWindow?
    public let daily_send_limit: Int?
    public let created_at: Date
    public let updated_at: Date
}

public struct InboxStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    package static let columns = "id, address, display_name, timezone, send_window::text, daily_send_limit, created_at, updated_at"

    package static func record(_ row: PostgresRow) throws -> InboxRecord {
        let (id, address, name, tz, window, limit, created, updated) = try row.decode(
            (String, String, String?, String, String?, Int?, Date, Date).self)
        let w = try window.map { try JSONCoding.decoder.decode(SendWindow.self, from: Data($0.utf8)) }
        return InboxRecord(
            id: id, address: address, display_name: name, timezone: tz, send_window: w, daily_send_limit: limit, created_at: created,
            updated_at: updated)
    }

    package static func windowJSON(_ w: SendWindow?) -> String? {
        w.flatMap { try? String(decoding: JSONCoding.encoder.encode($0), as: UTF8.self) }
    }

    /// `anyDomain`: the server lets organizations send from any domain (--dev, or the operator's
    /// NUDGE_ALLOW_ANY_SENDER_DOMAIN); otherwise the address must be on one of the organization's
    /// sender domains.
    public func create(
        org: String, address: String, domain: String, displayName: String?, timezone: String, window: SendWindow?, dailyLimit: Int?,
        anyDomain: Bool, now: Date
    ) async throws -> InboxRecord {
        let id = ID.make(.inb)
        do {
            return try await db.tenant(org) { conn in
                if !anyDomain, try await !SenderDomainStore.isAllowed(org: org, domain: domain, conn, logger: logger) {
                    throw NudgeError.validation(
                        "address",
                        "This organization may not send from \(domain): an operator allows a domain with `nudge domain allow --org \(org) \(domain)`."
                    )
                }
                return try await conn.query(
                    """
                    INSERT INTO inboxes (org_id, id, address, display_name, timezone, send_window, daily_send_limit, created_at, updated_at)
                    VALUES (\(org), \(id), \(address), \(displayName), \(timezone), \(Self.windowJSON(window))::jsonb, \(dailyLimit), \(now), \(now))
                    RETURNING \(unescaped: Self.columns)
                    """, logger: logger
                ).first { _ in true }.map(Self.record)!
            }
        } catch DatabaseFailure.uniqueViolation {
            throw NudgeError.conflict("This organization already has an inbox with the address \(address).", param: "address")
        }
    }

    /// Whether the organization has this inbox (row-level security would hide another's anyway).
    package static func exists(org: String, id: String, _ conn: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !conn.query("SELECT 1 FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger).collect().isEmpty
    }

    public func get(org: String, id: String, _ conn: PostgresConnection) async throws -> InboxRecord? {
        try await conn.query("SELECT \(unescaped: Self.columns) FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger)
            .first { _ in true }.map(Self.record)
    }

    public func get(org: String, id: String) async throws -> InboxRecord? {
        try await db.tenant(org) { try await get(org: org, id: id, $0) }
    }

    public func list(org: String, page: PageRequest) async throws -> Page<InboxRecord> {
        let rows = try await db.tenant(org) { conn in
            var out: [InboxRecord] = []
            for try await row in try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM inboxes WHERE org_id = \(org)
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger)
            { out.append(try Self.record(row)) }
            return out
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    public struct Patch: Sendable {
        package var displayName: String??
        package var timezone: String?
        package var window: SendWindow??
        package var dailyLimit: Int??

        package init(displayName: String?? = nil, timezone: String? = nil, window: SendWindow?? = nil, dailyLimit: Int?? = nil) {
            self.displayName = displayName
            self.timezone = timezone
            self.window = window
            self.dailyLimit = dailyLimit
        }
    }

    public func update(org: String, id: String, patch: Patch, now: Date) async throws -> InboxRecord? {
        try await db.tenant(org) { conn in
            try await conn.query(
                """
                UPDATE inboxes SET
                  display_name = CASE WHEN \(patch.displayName != nil) THEN \(patch.displayName ?? nil) ELSE display_name END,
                  timezone = coalesce(\(patch.timezone), timezone),
                  send_window = CASE WHEN \(patch.window != nil) THEN \(Self.windowJSON(patch.window ?? nil))::jsonb ELSE send_window END,
                  daily_send_limit = CASE WHEN \(patch.dailyLimit != nil) THEN \(patch.dailyLimit ?? nil) ELSE daily_send_limit END,
                  updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id)
                RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).first { _ in true }.map(Self.record)
        }
    }

    package init(db: Database) {
        self.db = db
    }
}
