import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct SequenceRecord: Encodable, Sendable {
    public let id: String
    public let name: String
    public let sender_inbox_id: String
    public let version: Int
    public let exit_on_reply: Bool
    public let exit_condition_prompt: String?
    public let on_out_of_office: OutOfOfficeAction
    public let ooo_default_days: Int
    public let stop_on_company_reply: Bool
    public let emails: [Step]
    public let archived_at: Date?
    public let created_at: Date
    public let updated_at: Date
}

/// Saved sequences. Every edit is a new version (a row of sequence_versions, never changed
/// afterwards); an enrollment runs the steps of the version it was made with.
public struct SequenceStore: Sendable {
    package let db: Database
    /// Shared by every copy of this store in the process.
    package let cache = SequenceCache()
    package var logger: Logger { db.logger }

    package static let columns = "id, name, sender_inbox_id, version, definition::text, archived_at, created_at, updated_at"

    package static func record(_ row: PostgresRow) throws -> SequenceRecord {
        try record(row.decode((String, String, String, Int, String, Date?, Date, Date).self))
    }

    package static func record(_ columns: (String, String, String, Int, String, Date?, Date, Date)) throws -> SequenceRecord {
        let (id, name, inbox, version, def, archived, created, updated) = columns
        let d = try JSONCoding.decoder.decode(SequenceDefinition.self, from: Data(def.utf8))
        return SequenceRecord(
            id: id, name: name, sender_inbox_id: inbox, version: version, exit_on_reply: d.exit_on_reply,
            exit_condition_prompt: d.exit_condition_prompt, on_out_of_office: d.on_out_of_office ?? .hold,
            ooo_default_days: d.ooo_default_days ?? OutOfOfficeAction.defaultDays, stop_on_company_reply: d.stop_on_company_reply ?? false,
            emails: d.steps, archived_at: archived, created_at: created,
            updated_at: updated)
    }

    package static func definition(_ r: SequenceRecord) -> SequenceDefinition {
        SequenceDefinition(
            steps: r.emails, exit_on_reply: r.exit_on_reply, exit_condition_prompt: r.exit_condition_prompt, on_out_of_office: r.on_out_of_office,
            ooo_default_days: r.ooo_default_days, stop_on_company_reply: r.stop_on_company_reply)
    }

    public func create(org: String, name: String, inboxID: String, definition: SequenceDefinition, now: Date) async throws -> SequenceRecord {
        let id = ID.make(.seq)
        let def = String(decoding: try JSONCoding.encoder.encode(definition), as: UTF8.self)
        return try await db.tenant(org) { conn in
            try await requireInbox(org: org, inboxID, conn)
            let row = try await conn.query(
                """
                INSERT INTO sequences (org_id, id, name, sender_inbox_id, version, definition, created_at, updated_at)
                VALUES (\(org), \(id), \(name), \(inboxID), 1, \(def)::jsonb, \(now), \(now)) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect()
            try await conn.query(
                """
                INSERT INTO sequence_versions (org_id, sequence_id, version, name, definition, created_at)
                VALUES (\(org), \(id), 1, \(name), \(def)::jsonb, \(now))
                """, logger: logger)
            return try Self.record(row[0])
        }
    }

    package func requireInbox(org: String, _ inboxID: String, _ conn: PostgresConnection) async throws {
        if try await !InboxStore.exists(org: org, id: inboxID, conn, logger: logger) {
            throw NudgeError.validation("sender_inbox_id", "No inbox \(inboxID) in this organization.")
        }
    }

    /// Prepared: every enrollment reads its sequence, and planning cost more than reading.
    public func get(org: String, id: String, _ conn: PostgresConnection) async throws -> SequenceRecord? {
        try await conn.execute(ByID(org: org, id: id), logger: logger).first { _ in true }
    }

    /// The sequence for a new enrollment and, when it came from the cache, the version the
    /// enrollment's insert must find current (`EnrollmentStore.NewEnrollment.cachedVersion`).
    /// `fresh` skips the cache (after `SequenceCache.Changed`).
    package func forEnrollment(org: String, id: String, fresh: Bool, _ conn: PostgresConnection) async throws -> (
        SequenceRecord, cachedVersion: Int?
    )? {
        if !fresh, let s = cache.get(org: org, id: id) { return (s, s.version) }
        guard let s = try await get(org: org, id: id, conn) else { return nil }
        cache.put(org: org, s)
        return (s, nil)
    }

    package struct ByID: PostgresPreparedStatement {
        package static let sql = "SELECT \(SequenceStore.columns) FROM sequences WHERE org_id = $1::text AND id = $2::text"
        package let org: String
        package let id: String
        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings()
            b.append(org)
            b.append(id)
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws -> SequenceRecord { try SequenceStore.record(row) }
    }

    public func get(org: String, id: String) async throws -> SequenceRecord? {
        try await db.tenant(org) { try await get(org: org, id: id, $0) }
    }

    /// With their steps (a sequence is at most about 1 MB by the limits of its steps), bounded in
    /// bytes (`EncodedPage`); PostgreSQL sends the definitions of about a page's worth (`PageSize`).
    public func list(org: String, includeArchived: Bool, page: PageRequest) async throws -> EncodedPage {
        try await db.tenant(org) { conn in
            var out = page.encoded()
            for try await row in try await conn.query(
                """
                SELECT before < \(PageSize.budget), id, name, sender_inbox_id, version,
                  CASE WHEN before < \(PageSize.budget) THEN definition::text END, archived_at, created_at, updated_at
                FROM (SELECT p.*, \(unescaped: PageSize.before("octet_length(p.definition::text)", order: "p.created_at DESC, p.id DESC")) AS before
                      FROM (SELECT id, name, sender_inbox_id, version, definition, archived_at, created_at, updated_at FROM sequences
                            WHERE org_id = \(org) AND (\(includeArchived) OR archived_at IS NULL)
                            AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)) p) s
                ORDER BY created_at DESC, id DESC
                """, logger: logger) where !out.isComplete
            {
                let (sent, id, name, inbox, version, def, archived, created, updated) = try row.decode(
                    (Bool, String, String, String, Int, String?, Date?, Date, Date).self)
                guard sent, let def else {
                    out.stop()
                    continue
                }
                try out.add(try Self.record((id, name, inbox, version, def, archived, created, updated)), key: (created, id))
            }
            return out
        }
    }

    /// A new version; running enrollments keep running the version they started with.
    public func update(
        org: String, id: String, name: String?, inboxID: String?, definition: @escaping @Sendable (SequenceRecord) throws -> SequenceDefinition,
        now: Date
    ) async throws -> SequenceRecord? {
        try await db.tenant(org) { conn in
            guard
                let current = try await conn.query(
                    "SELECT \(unescaped: Self.columns) FROM sequences WHERE org_id = \(org) AND id = \(id) FOR UPDATE", logger: logger
                )
                .collect().first.map(Self.record)
            else { return nil }
            if current.archived_at != nil { throw NudgeError.conflict("This sequence is archived; create a new one.") }
            if let inboxID { try await requireInbox(org: org, inboxID, conn) }
            let def = String(decoding: try JSONCoding.encoder.encode(try definition(current)), as: UTF8.self)
            let newName = name ?? current.name
            let version = current.version + 1
            try await conn.query(
                """
                INSERT INTO sequence_versions (org_id, sequence_id, version, name, definition, created_at)
                VALUES (\(org), \(id), \(version), \(newName), \(def)::jsonb, \(now))
                """, logger: logger)
            return try await conn.query(
                """
                UPDATE sequences SET name = \(newName), sender_inbox_id = coalesce(\(inboxID), sender_inbox_id), version = \(version),
                  definition = \(def)::jsonb, updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().first.map(Self.record)
        }
    }

    /// Archive: no new enrollments; running ones go on.
    public func archive(org: String, id: String, now: Date) async throws -> SequenceRecord? {
        try await db.tenant(org) { conn in
            try await conn.query(
                """
                UPDATE sequences SET archived_at = coalesce(archived_at, \(now)), updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).collect().first.map(Self.record)
        }
    }

    package init(db: Database) {
        self.db = db
    }
}
