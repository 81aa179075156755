import Foundation
import Logging
import NudgeCore
import PostgresNIO

public struct ContactEmail: Codable, Sendable, Equatable {
    public var label: String?
    public var address: String

    package init(label: String? = nil, address: String) {
        self.label = label
        self.address = address
    }
}

public struct ContactRecord: Encodable, Sendable {
    public let id: String
    public let inbox_id: String?
    public let full_name: String?
    public let first_name: String?
    public let last_name: String?
    public var emails: [ContactEmail]
    public let notes: String?
    public let labels: [String]
    public let fields: [String: String]
    public let timezone: String?
    public let created_at: Date
    public let updated_at: Date
}

/// The values a create-or-update or a PATCH may set; nil leaves a value as it is.
public struct ContactInput: Sendable {
    package var inboxID: String?
    package var fullName: String??
    package var emails: [ContactEmail]
    package var notes: String??
    package var labels: [String]?
    package var fields: [String: String]?
    package var timezone: String??

    package init(
        inboxID: String? = nil, fullName: String?? = nil, emails: [ContactEmail], notes: String?? = nil, labels: [String]? = nil,
        fields: [String: String]? = nil, timezone: String?? = nil
    ) {
        self.inboxID = inboxID
        self.fullName = fullName
        self.emails = emails
        self.notes = notes
        self.labels = labels
        self.fields = fields
        self.timezone = timezone
    }
}

public struct ContactStore: Sendable {
    package let db: Database
    package let rules: WorkflowRuleStore
    package var logger: Logger { db.logger }

    package static let columns = "id, inbox_id, full_name, notes, labels, fields::text, timezone, created_at, updated_at"

    package static func record(_ row: PostgresRow) throws -> ContactRecord {
        let (id, inbox, name, notes, labels, fields, tz, created, updated) = try row.decode(
            (String, String?, String?, String?, [String], String, String?, Date, Date).self)
        return try record(
            ContactRow(
                id: id, inboxID: inbox, fullName: name, notes: notes, labels: labels, fields: fields, timezone: tz, createdAt: created,
                updatedAt: updated))
    }

    /// A contacts row as read (without its addresses).
    package struct ContactRow {
        let id: String
        let inboxID: String?
        let fullName: String?
        let notes: String?
        let labels: [String]
        let fields: String
        let timezone: String?
        let createdAt: Date
        let updatedAt: Date
    }

    package static func record(_ r: ContactRow) throws -> ContactRecord {
        let (first, last) = NameSplit.split(r.fullName)
        return ContactRecord(
            id: r.id, inbox_id: r.inboxID, full_name: r.fullName, first_name: first, last_name: last, emails: [], notes: r.notes,
            labels: r.labels, fields: try JSONCoding.decoder.decode([String: String].self, from: Data(r.fields.utf8)),
            timezone: r.timezone, created_at: r.createdAt, updated_at: r.updatedAt)
    }

    /// Loads the addresses of many contacts in one query.
    package func withEmails(org: String, _ contacts: [ContactRecord], _ conn: PostgresConnection) async throws -> [ContactRecord] {
        guard !contacts.isEmpty else { return [] }
        var byContact: [String: [ContactEmail]] = [:]
        for try await (cid, address, label) in try await conn.query(
            """
            SELECT contact_id, address, label FROM contact_emails WHERE org_id = \(org) AND contact_id = ANY(\(contacts.map(\.id)))
            ORDER BY position, address_key
            """, logger: logger
        ).decode((String, String, String?).self) {
            byContact[cid, default: []].append(ContactEmail(label: label, address: address))
        }
        return contacts.map {
            var c = $0
            c.emails = byContact[c.id] ?? []
            return c
        }
    }

    package func get(org: String, id: String, _ conn: PostgresConnection) async throws -> ContactRecord? {
        guard
            let c = try await conn.query(
                "SELECT \(unescaped: Self.columns) FROM contacts WHERE org_id = \(org) AND id = \(id) AND deleted_at IS NULL", logger: logger
            )
            .collect().first.map(Self.record)
        else { return nil }
        return try await withEmails(org: org, [c], conn).first
    }

    public func get(org: String, id: String) async throws -> ContactRecord? {
        try await db.tenant(org) { try await get(org: org, id: id, $0) }
    }

    /// Create-or-update keyed by address. Concurrent requests for one new address race on the
    /// `contact_emails` primary key; the loser retries and then finds the winner's contact.
    public func upsert(org: String, _ input: ContactInput, now: Date, tokenID: String?) async throws -> (ContactRecord, created: Bool) {
        try await db.tenant(org, racesRetried: 5) { conn in try await upsert(org: org, input, now: now, tokenID: tokenID, conn) }
    }

    package func upsert(org: String, _ input: ContactInput, now: Date, tokenID: String?, _ conn: PostgresConnection) async throws -> (
        ContactRecord, created: Bool
    ) {
        let (id, created) = try await upsertID(org: org, input, now: now, tokenID: tokenID, conn)
        return (try await get(org: org, id: id, conn)!, created)
    }

    /// The upsert without reading the record back (two round trips fewer), for callers that only
    /// need the contact's id, such as an enrollment by address.
    package func upsertID(org: String, _ input: ContactInput, now: Date, tokenID: String?, _ conn: PostgresConnection) async throws -> (
        String, created: Bool
    ) {
        let fields = String(decoding: try JSONCoding.encoder.encode(input.fields ?? [:]), as: UTF8.self)
        // One round trip for the common case: when none of the addresses is known, the contact
        // and its addresses are inserted together; otherwise nothing is written and the contacts
        // owning them come back. A concurrent request inserting one of the same addresses makes
        // the address insert fail on the primary key, and the caller retries from the top.
        let rows = try await conn.execute(UpsertByAddress(org: org, newID: ID.make(.ctc), input: input, fields: fields, now: now), logger: logger)
            .collect()
        return try await settle(org: org, input, found: rows, now: now, tokenID: tokenID, conn)
    }

    /// The rest of an upsert after `UpsertByAddress` (alone or inside an enrollment's statement)
    /// answered with the contact it made, or the contacts that own the addresses.
    package func settle(
        org: String, _ input: ContactInput, found rows: [(String, String, Bool)], now: Date, tokenID: String?, _ conn: PostgresConnection
    ) async throws -> (String, created: Bool) {
        if let made = rows.first(where: \.2) {
            try await rules.fire(org: org, contactID: made.0, labels: input.labels ?? [], tokenID: tokenID, now: now, conn)
            return (made.0, true)
        }
        if rows.count > 1 {
            throw NudgeError.conflict(
                "The addresses \(rows.map(\.1).joined(separator: " and ")) belong to different contacts (\(rows.map(\.0).joined(separator: ", "))); merge them first.",
                param: "emails")
        }
        guard let match = rows.first else { throw DatabaseFailure.uniqueViolation(constraint: "contact_emails_pkey") }
        let id = match.0
        let before =
            try await conn.query("SELECT labels FROM contacts WHERE org_id = \(org) AND id = \(id) FOR UPDATE", logger: logger).decode([String].self)
            .collect().first ?? []
        let merged = input.labels.map { before + $0.filter { !before.contains($0) } }
        try await update(org: org, id: id, input, labels: merged, now: now, conn)
        // Another request may have claimed one of the addresses since our lookup: retry from the top.
        try await addEmails(org: org, contactID: id, input.emails, takenIsRace: true, conn)
        try await rules.fire(org: org, contactID: id, labels: (merged ?? before).filter { !before.contains($0) }, tokenID: tokenID, now: now, conn)
        return (id, false)
    }

    /// Prepared (its planning cost more than its execution). Parameters: organization, keys, new
    /// contact's id, inbox, name, notes, labels, fields (JSON), timezone, time, addresses, labels.
    /// Each address is its own primary-key probe: with `address_key = ANY(keys)`, statistics older
    /// than a burst of new contacts gave a plan that read every address of the organization and
    /// filtered them (ops/bench api, auto_explain: 38-55 ms per request and 36,348 rows removed,
    /// until autovacuum analysed the table; PostgreSQL CPU per request 2.6x). A plain lateral join
    /// was flattened into a hash join over the same scan; LIMIT 1 (the key is unique) keeps each
    /// probe a parameterised primary-key lookup, as in the dispatcher's claim.
    /// `ctes` and `found` are also the contact half of `EnrollmentStore.InsertWithNewContact`.
    package struct UpsertByAddress: ComposableStatement {
        package static let ctes = """
            known AS (
              SELECT DISTINCT ON (e.contact_id) e.contact_id, e.address
              FROM unnest($2::text[]) AS k(key)
              CROSS JOIN LATERAL (SELECT contact_id, address, address_key FROM contact_emails WHERE org_id = $1::text AND address_key = k.key LIMIT 1) e
              ORDER BY e.contact_id, e.address_key
            ), made AS (
              INSERT INTO contacts (org_id, id, inbox_id, full_name, notes, labels, fields, timezone, created_at, updated_at)
              SELECT $1::text, $3::text, $4::text, $5::text, $6::text, $7::text[], $8::text::jsonb, $9::text, $10::timestamptz, $10::timestamptz
              WHERE NOT EXISTS (SELECT 1 FROM known)
              RETURNING id
            ), addresses AS (
              INSERT INTO contact_emails (org_id, address_key, contact_id, address, label, position)
              SELECT DISTINCT ON (u.k) $1::text, u.k, made.id, u.a, nullif(u.l, ''), u.n - 1
              FROM made, unnest($2::text[], $11::text[], $12::text[]) WITH ORDINALITY AS u(k, a, l, n)
              ORDER BY u.k, u.n
            )
            """
        /// Each owning contact and its address (made false), or the new contact (made true).
        package static let found = "SELECT contact_id, address, false AS made FROM known UNION ALL SELECT id, '', true FROM made"
        package static let sql = "WITH \(ctes) \(found)"
        package static let parameterCount = 12
        package let org: String
        package let newID: String
        package let input: ContactInput
        package let fields: String
        package let now: Date

        package func bind(into b: inout PostgresBindings) {
            b.append(org)
            b.append(input.emails.map { Mailbox.key($0.address) })
            b.append(newID)
            b.append(input.inboxID)
            b.append(input.fullName ?? nil)
            b.append(input.notes ?? nil)
            b.append(input.labels ?? [])
            b.append(fields)
            b.append(input.timezone ?? nil)
            b.append(now)
            b.append(input.emails.map(\.address))
            b.append(input.emails.map { $0.label ?? "" })
        }
        package func decodeRow(_ row: PostgresRow) throws -> (String, String, Bool) { try row.decode((String, String, Bool).self) }
    }

    /// Adds addresses not yet known. An address another request is adding at this moment fails the
    /// primary key (the caller retries); one that already belongs to another contact is a 409.
    package func addEmails(org: String, contactID: String, _ emails: [ContactEmail], takenIsRace: Bool = false, _ conn: PostgresConnection)
        async throws
    {
        let keys = emails.map { Mailbox.key($0.address) }
        try await conn.query(
            """
            INSERT INTO contact_emails (org_id, address_key, contact_id, address, label, position)
            SELECT \(org), k, \(contactID), a, nullif(l, ''), coalesce((SELECT max(position) + 1 FROM contact_emails WHERE org_id = \(org) AND contact_id = \(contactID)), 0) + n
            FROM unnest(\(keys)::text[], \(emails.map(\.address))::text[], \(emails.map { $0.label ?? "" })::text[]) WITH ORDINALITY AS u(k, a, l, n)
            WHERE NOT EXISTS (SELECT 1 FROM contact_emails e WHERE e.org_id = \(org) AND e.address_key = u.k)
            """, logger: logger)
        // An address that already belongs to another contact was skipped above: refuse it.
        let owners = try await conn.query(
            """
            SELECT e.address FROM unnest(\(keys)::text[]) AS k(key)
            CROSS JOIN LATERAL (SELECT address FROM contact_emails WHERE org_id = \(org) AND address_key = k.key AND contact_id <> \(contactID) LIMIT 1) e
            """, logger: logger
        ).decode(String.self).collect()
        if let taken = owners.first {
            if takenIsRace { throw DatabaseFailure.uniqueViolation(constraint: "contact_emails_pkey") }
            throw NudgeError.conflict("The address \(taken) belongs to another contact.", param: "emails")
        }
    }

    package func update(org: String, id: String, _ input: ContactInput, labels: [String]?, now: Date, _ conn: PostgresConnection) async throws {
        let fields = try input.fields.map { String(decoding: try JSONCoding.encoder.encode($0), as: UTF8.self) }
        try await conn.query(
            """
            UPDATE contacts SET
              inbox_id = coalesce(\(input.inboxID), inbox_id),
              full_name = CASE WHEN \(input.fullName != nil) THEN \(input.fullName ?? nil) ELSE full_name END,
              notes = CASE WHEN \(input.notes != nil) THEN \(input.notes ?? nil) ELSE notes END,
              labels = coalesce(\(labels), labels),
              fields = coalesce(\(fields)::jsonb, fields),
              timezone = CASE WHEN \(input.timezone != nil) THEN \(input.timezone ?? nil) ELSE timezone END,
              updated_at = \(now)
            WHERE org_id = \(org) AND id = \(id)
            """, logger: logger)
    }

    /// PATCH: given values replace the stored ones (emails and labels as whole lists).
    public func patch(org: String, id: String, _ input: ContactInput, replaceEmails: Bool, now: Date, tokenID: String?) async throws -> ContactRecord?
    {
        try await db.tenant(org) { conn in
            guard let before = try await lockedLabels(org: org, id: id, conn) else { return nil }
            try await update(org: org, id: id, input, labels: input.labels, now: now, conn)
            if replaceEmails {
                try await conn.query(
                    "DELETE FROM contact_emails WHERE org_id = \(org) AND contact_id = \(id) AND NOT (address_key = ANY(\(input.emails.map { Mailbox.key($0.address) })))",
                    logger: logger)
                try await addEmails(org: org, contactID: id, input.emails, conn)
            }
            let added = (input.labels ?? before).filter { !before.contains($0) }
            try await rules.fire(org: org, contactID: id, labels: added, tokenID: tokenID, now: now, conn)
            return try await get(org: org, id: id, conn)
        }
    }

    /// The contact's labels, its row locked for the change (nil when it does not exist).
    private func lockedLabels(org: String, id: String, _ conn: PostgresConnection) async throws -> [String]? {
        try await conn.query(
            "SELECT labels FROM contacts WHERE org_id = \(org) AND id = \(id) AND deleted_at IS NULL FOR UPDATE", logger: logger
        )
        .decode([String].self).collect().first
    }

    public func changeLabels(org: String, id: String, add: [String], remove: [String], now: Date, tokenID: String?) async throws -> ContactRecord? {
        try await db.tenant(org) { conn in
            // Row lock: two concurrent additions of one label see each other, so rules fire once.
            guard let before = try await lockedLabels(org: org, id: id, conn) else { return nil }
            let added = add.filter { !before.contains($0) }
            let after = (before + added).filter { !remove.contains($0) || add.contains($0) }
            try await conn.query("UPDATE contacts SET labels = \(after), updated_at = \(now) WHERE org_id = \(org) AND id = \(id)", logger: logger)
            try await rules.fire(org: org, contactID: id, labels: added, tokenID: tokenID, now: now, conn)
            return try await get(org: org, id: id, conn)
        }
    }

    /// Deleting keeps the message history; the addresses are released and running enrollments cancelled.
    public func delete(org: String, id: String, now: Date) async throws -> Bool {
        try await db.tenant(org) { conn in
            let rows = try await conn.query(
                "UPDATE contacts SET deleted_at = \(now), updated_at = \(now) WHERE org_id = \(org) AND id = \(id) AND deleted_at IS NULL RETURNING id",
                logger: logger
            ).collect()
            guard !rows.isEmpty else { return false }
            try await conn.query("DELETE FROM contact_emails WHERE org_id = \(org) AND contact_id = \(id)", logger: logger)
            _ = try await EnrollmentStore.finish(
                org: org, contactID: id, state: .cancelled, reason: nil, detail: "contact deleted", now: now, conn, logger: logger)
            return true
        }
    }

    /// Bounded in bytes (`EncodedPage`): a contact may hold about 110,000 characters (notes, 50
    /// fields, 100 labels). PostgreSQL sends the content of about a page's worth (`PageSize`).
    public func list(org: String, email: String?, label: String?, page: PageRequest) async throws -> EncodedPage {
        let key = email.map(Mailbox.key)
        return try await db.tenant(org) { conn in
            var listed: [ContactRecord] = []
            var more = false
            for try await row in try await conn.query(
                """
                SELECT before < \(PageSize.budget), id, inbox_id, full_name,
                  CASE WHEN before < \(PageSize.budget) THEN notes END, CASE WHEN before < \(PageSize.budget) THEN labels END,
                  CASE WHEN before < \(PageSize.budget) THEN fields::text END, timezone, created_at, updated_at
                FROM (SELECT p.*, \(unescaped: PageSize.before(Self.size, order: "p.created_at DESC, p.id DESC")) AS before
                      FROM (SELECT id, inbox_id, full_name, notes, labels, fields, timezone, created_at, updated_at FROM contacts c
                            WHERE org_id = \(org) AND deleted_at IS NULL
                            AND (\(label)::text IS NULL OR labels @> ARRAY[\(label)]::text[])
                            AND (\(key)::text IS NULL OR EXISTS (SELECT 1 FROM contact_emails e WHERE e.org_id = c.org_id AND e.contact_id = c.id AND e.address_key = \(key)))
                            AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)) p) s
                ORDER BY created_at DESC, id DESC
                """, logger: logger) where !more
            {
                let (sent, id, inbox, name, notes, labels, fields, tz, created, updated) =
                    try row.decode((Bool, String, String?, String?, String?, [String]?, String?, String?, Date, Date).self)
                guard sent, let labels, let fields else {
                    more = true
                    continue
                }
                listed.append(
                    try Self.record(
                        ContactRow(
                            id: id, inboxID: inbox, fullName: name, notes: notes, labels: labels, fields: fields, timezone: tz,
                            createdAt: created, updatedAt: updated)))
            }
            var out = page.encoded()
            for c in try await withEmails(org: org, listed, conn) {
                guard try out.add(c, key: (c.created_at, c.id)) else { break }
            }
            if more { out.stop() }
            return out
        }
    }

    /// A listed contact's stored text, less its addresses (at most 20, each at most 254 characters).
    package static let size =
        "octet_length(coalesce(p.full_name, '')) + octet_length(coalesce(p.notes, '')) + octet_length(p.labels::text) + octet_length(p.fields::text)"

    package init(db: Database, rules: WorkflowRuleStore) {
        self.db = db
        self.rules = rules
    }
}

/// `first_name` / `last_name` for templates: "Avery Chen" -> Avery / Chen, "Chen, Avery" -> Avery /
/// Chen; honorifics and suffixes are set aside.
package enum NameSplit {
    package static let honorifics: Set<String> = ["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam"]
    package static let suffixes: Set<String> = ["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"]

    package static func split(_ full: String?) -> (String?, String?) {
        guard let full = full?.trimmingCharacters(in: .whitespacesAndNewlines), !full.isEmpty else { return (nil, nil) }
        if let comma = full.firstIndex(of: ","), !full[full.index(after: comma)...].trimmingCharacters(in: .whitespaces).isEmpty {
            let last = full[..<comma].trimmingCharacters(in: .whitespaces)
            let rest = full[full.index(after: comma)...].split(separator: " ").map(String.init)
            if !suffixes.contains(rest.first.map(normal) ?? "") {
                return (rest.first, last.isEmpty ? nil : last)
            }
        }
        var words = full.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        while let w = words.first, words.count > 1, honorifics.contains(normal(w)) { words.removeFirst() }
        while let w = words.last, words.count > 1, suffixes.contains(normal(w)) { words.removeLast() }
        guard let first = words.first else { return (nil, nil) }
        return (first, words.count > 1 ? words.last : nil)
    }

    package static func normal(_ w: String) -> String { w.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) }
}
