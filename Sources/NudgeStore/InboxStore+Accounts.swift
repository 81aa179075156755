import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// An inbox's SMTP account as shown: the password's presence, never the password.
public struct SMTPAccountView: Encodable, Sendable {
    public let host: String
    public let port: Int
    public let security: MailSecurity
    public let username: String
    public let password_set: Bool

    init(_ a: SMTPAccount) {
        (host, port, security, username, password_set) = (a.host, a.port, a.security, a.username, true)
    }
}

/// An inbox's IMAP account as shown: the password's presence, never the password.
public struct IMAPAccountView: Encodable, Sendable {
    public let host: String
    public let port: Int
    public let security: MailSecurity
    public let username: String
    public let folder: String
    public let poll_interval_seconds: Int
    public let since: String?
    public let password_set: Bool

    init(_ a: IMAPAccount) {
        (host, port, security, username, folder) = (a.host, a.port, a.security, a.username, a.folder)
        (poll_interval_seconds, since, password_set) = (a.poll_interval_seconds, a.since, true)
    }
}

/// How the inbox's accounts last did: `unknown` until used or checked, then `ok` or `failing`.
/// `last_error` and `last_ok_at` are the SMTP account's; `imap_*` the IMAP reader's.
public struct InboxConnection: Encodable, Sendable {
    public let smtp_status: String?
    public let last_error: String?
    public let last_ok_at: Date?
    public let imap_status: String?
    public let imap_last_error: String?
    public let imap_last_ok_at: Date?
}

/// An account to store: its password sealed by the caller (nil keeps the stored one).
public struct SealedAccount<Account: Sendable & Equatable>: Sendable, Equatable {
    public let account: Account
    public let sealedPassword: [UInt8]?
    public let keyID: String?

    public init(account: Account, sealedPassword: [UInt8]?, keyID: String?) {
        self.account = account
        self.sealedPassword = sealedPassword
        self.keyID = keyID
    }
}

/// An inbox's account as the dispatcher and the check need it.
package struct StoredAccount: Sendable {
    package let org: String
    package let inboxID: String
    package let version: Int
    package let account: SMTPAccount
    package let sealedPassword: [UInt8]
}

extension InboxStore {
    /// The accounts of these inboxes (those that have one), for the dispatcher: one statement.
    package static func accounts(_ inboxes: [(org: String, id: String)], db: Database) async throws -> [StoredAccount] {
        guard !inboxes.isEmpty else { return [] }
        return try await db.system { conn in
            var out: [StoredAccount] = []
            for try await (org, id, version, smtp, sealed) in try await conn.query(
                """
                SELECT i.org_id, i.id, i.smtp_version, i.smtp::text, i.smtp_password
                FROM unnest(\(inboxes.map(\.org))::text[], \(inboxes.map(\.id))::text[]) AS u(org, id)
                JOIN inboxes i ON i.org_id = u.org AND i.id = u.id
                WHERE i.smtp IS NOT NULL AND i.smtp_password IS NOT NULL
                """, logger: db.logger
            ).decode((String, String, Int, String, ByteBuffer).self) {
                if let account = SMTPAccount.decode(smtp) {
                    out.append(StoredAccount(org: org, inboxID: id, version: version, account: account, sealedPassword: Array(buffer: sealed)))
                }
            }
            return out
        }
    }

    /// Inboxes with their own SMTP account that have steps due, the longest-waiting first, less
    /// those `busy` (this process is sending for them): the dispatcher claims each on its own.
    package static func dueAccounts(now: Date, excluding busy: [String], limit: Int, db: Database) async throws -> [(org: String, id: String)] {
        try await db.system { conn in
            try await conn.query(
                """
                SELECT i.org_id, i.id FROM inboxes i
                CROSS JOIN LATERAL (SELECT e.next_due_at FROM enrollments e
                  WHERE e.inbox_id = i.id AND e.org_id = i.org_id AND e.state = 'active' AND e.through_account AND e.next_due_at <= \(now)
                    AND NOT e.held AND e.held_until IS NULL
                  ORDER BY e.next_due_at LIMIT 1) e
                WHERE i.smtp IS NOT NULL AND i.id <> ALL(\(busy)::text[])
                ORDER BY e.next_due_at LIMIT \(limit)
                """, logger: db.logger
            ).decode((String, String).self).collect().map { (org: $0.0, id: $0.1) }
        }
    }

    /// One inbox's account (the connection check), within its organization.
    package func account(org: String, id: String) async throws -> StoredAccount?? {
        try await db.tenant(org) { conn in
            let rows = try await conn.query(
                "SELECT smtp_version, smtp::text, smtp_password FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger
            ).decode((Int, String?, ByteBuffer?).self).collect()
            guard let (version, smtp, sealed) = rows.first else { return nil }
            guard let account = SMTPAccount.decode(smtp), let sealed else { return .some(nil) }
            return StoredAccount(org: org, inboxID: id, version: version, account: account, sealedPassword: Array(buffer: sealed))
        }
    }

    /// What the dispatcher or a check saw of accounts: an account's status changes only for the
    /// version that was used (a changed account starts over), and a change into `failing` is an
    /// `inbox.connection_failed` event: one per failure episode, not one per attempt.
    package static func recordConnections(
        _ seen: [(org: String, inbox: String, version: Int, error: String?)], now: Date, db: Database
    ) async throws {
        guard !seen.isEmpty else { return }
        let sorted = seen.sorted { ($0.org, $0.inbox) < ($1.org, $1.inbox) }
        try await db.system { conn in
            let failedNow = try await conn.query(
                """
                WITH u AS (
                  SELECT * FROM unnest(\(sorted.map(\.org))::text[], \(sorted.map(\.inbox))::text[], \(sorted.map(\.version))::int[],
                    \(sorted.map { $0.error ?? "" })::text[]) AS u(org, id, version, raw_error)),
                v AS (SELECT org, id, version, nullif(raw_error, '') AS error FROM u),
                old AS (SELECT i.org_id, i.id, i.smtp_status FROM inboxes i JOIN v ON i.org_id = v.org AND i.id = v.id
                  AND i.smtp_version = v.version FOR NO KEY UPDATE OF i)
                UPDATE inboxes i SET smtp_status = CASE WHEN v.error IS NULL THEN 'ok' ELSE 'failing' END,
                  connection_error = v.error, connection_ok_at = CASE WHEN v.error IS NULL THEN \(now) ELSE i.connection_ok_at END
                FROM v JOIN old ON old.org_id = v.org AND old.id = v.id
                WHERE i.org_id = v.org AND i.id = v.id
                RETURNING i.org_id, i.id, v.error, old.smtp_status
                """, logger: db.logger
            ).decode((String, String, String?, String).self).collect()
            try await connectionFailures(failedNow, protocol: "smtp", now: now, conn, logger: db.logger)
        }
    }

    /// `inbox.connection_failed` for each account seen failing that was not failing before: one
    /// event per failure episode, not one per attempt (SMTP sends and checks, IMAP polls).
    static func connectionFailures(
        _ seen: [(org: String, inbox: String, error: String?, before: String)], protocol: String, now: Date, _ conn: PostgresConnection,
        logger: Logger
    ) async throws {
        let events = seen.compactMap { (org, id, error, before) -> PendingEvent? in
            guard let error, before != "failing" else { return nil }
            return PendingEvent(
                org: org, type: .inboxConnectionFailed, ["inbox_id": .string(id), "protocol": .string(`protocol`), "error": .string(error)])
        }
        try await Events.append(events, at: now, on: conn, logger: logger)
    }

    /// Every sealed password (`service` smtp or imap) and the secret that sealed it, for
    /// `nudge secret rotate`.
    package static func sealedPasswords(db: Database) async throws -> [(org: String, id: String, service: String, sealed: [UInt8], keyID: String?)] {
        try await db.system { conn in
            try await conn.query(
                """
                SELECT org_id, id, 'smtp', smtp_password, secret_key_id FROM inboxes WHERE smtp_password IS NOT NULL
                UNION ALL
                SELECT org_id, id, 'imap', imap_password, imap_secret_key_id FROM inboxes WHERE imap_password IS NOT NULL
                ORDER BY 1, 2, 3
                """, logger: db.logger
            ).decode((String, String, String, ByteBuffer, String?).self).collect().map { ($0.0, $0.1, $0.2, Array(buffer: $0.3), $0.4) }
        }
    }

    /// Replaces a sealed password, unless it changed since it was read (then it is left as is).
    package static func reseal(
        org: String, id: String, service: String, from old: [UInt8], to new: [UInt8], keyID: String, db: Database
    ) async throws -> Bool {
        try await db.system { conn in
            let rows =
                service == "imap"
                ? try await conn.query(
                    """
                    UPDATE inboxes SET imap_password = \(ByteBuffer(bytes: new)), imap_secret_key_id = \(keyID)
                    WHERE org_id = \(org) AND id = \(id) AND imap_password = \(ByteBuffer(bytes: old)) RETURNING 1
                    """, logger: db.logger
                ).collect()
                : try await conn.query(
                    """
                    UPDATE inboxes SET smtp_password = \(ByteBuffer(bytes: new)), secret_key_id = \(keyID)
                    WHERE org_id = \(org) AND id = \(id) AND smtp_password = \(ByteBuffer(bytes: old)) RETURNING 1
                    """, logger: db.logger
                ).collect()
            return !rows.isEmpty
        }
    }

}
