import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// An organization's sending domain as shown: the DNS records to publish, and what DNS said.
public struct DomainRecord: Encodable, Sendable {
    public let id: String
    public let domain: String
    public let selector: String
    public let status: String
    public let ed25519_record: String
    public let rsa_record: String
    public let verified_at: Date?
    public let checked_at: Date?
    public let last_error: String?
    public let created_at: Date
    public let updated_at: Date
}

/// A domain's sealed signing keys, for the dispatcher and `nudge secret rotate`.
package struct DomainKeys: Sendable {
    package let org: String
    package let id: String
    package let domain: String
    package let selector: String
    package let sealedEd25519: [UInt8]
    package let sealedRSA: [UInt8]
    package let keyID: String
}

/// The `domains` table (README, "Connected mailboxes"): DKIM keys per sending domain, verified
/// through DNS.
public struct DomainStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    package init(db: Database) { self.db = db }

    static let columns = """
        id, domain, selector, status, ed25519_record, rsa_record, verified_at, checked_at, last_error, created_at, updated_at
        """

    static func record(_ row: PostgresRow) throws -> DomainRecord {
        let (id, domain, selector, status, ed, rsa, verified, checked, error, created, updated) = try row.decode(
            (String, String, String, String, String, String, Date?, Date?, String?, Date, Date).self)
        return DomainRecord(
            id: id, domain: domain, selector: selector, status: status, ed25519_record: ed, rsa_record: rsa, verified_at: verified,
            checked_at: checked, last_error: error, created_at: created, updated_at: updated)
    }

    package struct NewDomain: Sendable {
        package let id: String
        package let domain: String
        package let selector: String
        package let sealedEd25519: [UInt8]
        package let sealedRSA: [UInt8]
        package let keyID: String
        package let ed25519Record: String
        package let rsaRecord: String

        package init(
            id: String, domain: String, selector: String, sealedEd25519: [UInt8], sealedRSA: [UInt8], keyID: String, ed25519Record: String,
            rsaRecord: String
        ) {
            (self.id, self.domain, self.selector, self.sealedEd25519, self.sealedRSA) = (id, domain, selector, sealedEd25519, sealedRSA)
            (self.keyID, self.ed25519Record, self.rsaRecord) = (keyID, ed25519Record, rsaRecord)
        }
    }

    package func create(org: String, _ d: NewDomain, now: Date) async throws -> DomainRecord {
        do {
            return try await db.tenant(org) { conn in
                try await conn.query(
                    """
                    INSERT INTO domains (org_id, id, domain, selector, ed25519_key, rsa_key, secret_key_id, ed25519_record, rsa_record,
                      created_at, updated_at)
                    VALUES (\(org), \(d.id), \(d.domain), \(d.selector), \(ByteBuffer(bytes: d.sealedEd25519)), \(ByteBuffer(bytes: d.sealedRSA)),
                      \(d.keyID), \(d.ed25519Record), \(d.rsaRecord), \(now), \(now))
                    RETURNING \(unescaped: Self.columns)
                    """, logger: logger
                ).first { _ in true }.map(Self.record)!
            }
        } catch DatabaseFailure.uniqueViolation {
            throw Self.duplicate(d.domain)
        }
    }

    /// The answer to adding a domain the organization already has.
    package static func duplicate(_ domain: String) -> NudgeError {
        NudgeError.conflict("This organization already has the domain \(domain).", param: "domain")
    }

    /// How many domains the organization has, and whether `domain` is one of them.
    package func census(org: String, domain: String) async throws -> (count: Int, exists: Bool) {
        try await db.tenant(org) { conn in
            try await conn.query(
                "SELECT count(*)::int, coalesce(bool_or(domain = \(domain)), false) FROM domains WHERE org_id = \(org)", logger: logger
            ).decode((Int, Bool).self).collect().first ?? (0, false)
        }
    }

    package func get(org: String, id: String) async throws -> DomainRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("SELECT \(unescaped: Self.columns) FROM domains WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .first { _ in true }.map(Self.record)
        }
    }

    package func list(org: String, page: PageRequest) async throws -> Page<DomainRecord> {
        let rows = try await db.tenant(org) { conn in
            var out: [DomainRecord] = []
            for try await row in try await conn.query(
                """
                SELECT \(unescaped: Self.columns) FROM domains WHERE org_id = \(org)
                AND (created_at, id) < (\(page.beforeAt), \(page.beforeID)) ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """, logger: logger)
            { out.append(try Self.record(row)) }
            return out
        }
        return page.page(rows) { ($0.created_at, $0.id) }
    }

    /// Removes the domain and its keys: its mail is no longer signed, and no new inbox may use it
    /// unless an operator allows it. Existing inboxes keep sending.
    package func delete(org: String, id: String) async throws -> DomainRecord? {
        try await db.tenant(org) { conn in
            try await conn.query("DELETE FROM domains WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger)
                .first { _ in true }.map(Self.record)
        }
    }

    /// Whether the organization verified this domain (inboxes may then be created on it).
    package static func isVerified(org: String, domain: String, _ conn: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !conn.query(
            "SELECT 1 FROM domains WHERE org_id = \(org) AND domain = \(domain) AND verified_at IS NOT NULL", logger: logger
        ).collect().isEmpty
    }

    /// What a check of the domain's records found: `verified` when both keys are published,
    /// else `pending` (never verified) or `failing` (verified before). `domain.verified` when it
    /// becomes verified, `domain.verification_failed` when a verified domain starts failing:
    /// once per change, in the same transaction.
    package func recordCheck(org: String, id: String, found: Bool, error: String?, now: Date) async throws -> DomainRecord? {
        try await db.tenant(org) { conn in
            let before = try await conn.query(
                "SELECT status, domain FROM domains WHERE org_id = \(org) AND id = \(id) FOR NO KEY UPDATE", logger: logger
            ).decode((String, String).self).collect().first
            guard let (old, domain) = before else { return nil }
            let new = found ? "verified" : (old == "pending" ? "pending" : "failing")
            let record = try await conn.query(
                """
                UPDATE domains SET status = \(new), checked_at = \(now), last_error = \(found ? nil : error),
                  verified_at = CASE WHEN \(found) THEN coalesce(verified_at, \(now)) ELSE verified_at END, updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id) RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).first { _ in true }.map(Self.record)
            let data: [String: JSONValue] = ["domain_id": .string(id), "domain": .string(domain)]
            if new == "verified" && old != "verified" {
                try await Events.append([PendingEvent(org: org, type: .domainVerified, data)], at: now, on: conn, logger: logger)
            } else if new == "failing" && old == "verified" {
                var failed = data
                failed["error"] = .string(error ?? "the records were not found")
                try await Events.append([PendingEvent(org: org, type: .domainVerificationFailed, failed)], at: now, on: conn, logger: logger)
            }
            return record
        }
    }

    /// Takes up to `limit` domains last checked before `before` (oldest first) for the periodic
    /// check, marking them checked now so that another worker takes others.
    package static func dueForCheck(before: Date, now: Date, limit: Int, db: Database) async throws -> [(org: String, record: DomainRecord)] {
        try await db.system { conn in
            var out: [(String, DomainRecord)] = []
            for try await (org, id, domain, selector, status, ed, rsa, verified, checked, error, created, updated) in try await conn.query(
                """
                UPDATE domains d SET checked_at = \(now)
                FROM (SELECT org_id, id FROM domains WHERE checked_at IS NULL OR checked_at < \(before)
                      ORDER BY checked_at NULLS FIRST LIMIT \(limit) FOR UPDATE SKIP LOCKED) due
                WHERE d.org_id = due.org_id AND d.id = due.id
                RETURNING d.org_id, d.id, d.domain, d.selector, d.status, d.ed25519_record, d.rsa_record, d.verified_at, d.checked_at,
                  d.last_error, d.created_at, d.updated_at
                """, logger: db.logger
            ).decode((String, String, String, String, String, String, String, Date?, Date?, String?, Date, Date).self) {
                out.append(
                    (
                        org,
                        DomainRecord(
                            id: id, domain: domain, selector: selector, status: status, ed25519_record: ed, rsa_record: rsa,
                            verified_at: verified, checked_at: checked, last_error: error, created_at: created, updated_at: updated)
                    ))
            }
            return out
        }
    }

    /// The keys of the organizations' domains that are or were verified (signing goes on while a
    /// re-check fails: the keys are still the organization's).
    package static func signingKeys(orgs: [String], db: Database) async throws -> [DomainKeys] {
        guard !orgs.isEmpty else { return [] }
        return try await db.system { conn in
            try await conn.query(
                """
                SELECT org_id, id, domain, selector, ed25519_key, rsa_key, secret_key_id FROM domains
                WHERE org_id = ANY(\(orgs)::text[]) AND verified_at IS NOT NULL
                """, logger: db.logger
            ).decode((String, String, String, String, ByteBuffer, ByteBuffer, String).self).collect().map {
                DomainKeys(
                    org: $0.0, id: $0.1, domain: $0.2, selector: $0.3, sealedEd25519: Array(buffer: $0.4), sealedRSA: Array(buffer: $0.5),
                    keyID: $0.6)
            }
        }
    }

    /// Every domain's sealed keys, for `nudge secret rotate`.
    package static func allKeys(db: Database) async throws -> [DomainKeys] {
        try await db.system { conn in
            try await conn.query(
                "SELECT org_id, id, domain, selector, ed25519_key, rsa_key, secret_key_id FROM domains ORDER BY org_id, id", logger: db.logger
            ).decode((String, String, String, String, ByteBuffer, ByteBuffer, String).self).collect().map {
                DomainKeys(
                    org: $0.0, id: $0.1, domain: $0.2, selector: $0.3, sealedEd25519: Array(buffer: $0.4), sealedRSA: Array(buffer: $0.5),
                    keyID: $0.6)
            }
        }
    }

    /// Replaces a domain's sealed keys unless they changed since they were read.
    package static func reseal(_ old: DomainKeys, ed25519: [UInt8], rsa: [UInt8], keyID: String, db: Database) async throws -> Bool {
        try await db.system { conn in
            try await !conn.query(
                """
                UPDATE domains SET ed25519_key = \(ByteBuffer(bytes: ed25519)), rsa_key = \(ByteBuffer(bytes: rsa)), secret_key_id = \(keyID)
                WHERE org_id = \(old.org) AND id = \(old.id) AND ed25519_key = \(ByteBuffer(bytes: old.sealedEd25519))
                  AND rsa_key = \(ByteBuffer(bytes: old.sealedRSA))
                RETURNING 1
                """, logger: db.logger
            ).collect().isEmpty
        }
    }
}
