import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// One mailbox poll the reader took: the account, and where reading stopped last time.
package struct MailboxPoll: Sendable {
    package let org: String
    package let inboxID: String
    package let version: Int
    package let account: IMAPAccount
    package let sealedPassword: [UInt8]
    /// nil until the first connection has set the starting point.
    package let uidValidity: UInt32?
    package let lastUID: UInt32?
    /// When the mailbox was last read without error (the resync's starting day).
    package let lastOK: Date?
    package let failures: Int
}

extension InboxStore {
    /// Sets, changes (`.some(account)`) or removes (`.some(nil)`) the inbox's IMAP account in the
    /// caller's transaction. A changed account starts over: status unknown, position forgotten
    /// (the next poll reads only newer mail, or from `since`), polled at once.
    package static func setIMAP(
        org: String, id: String, _ imap: SealedAccount<IMAPAccount>?, now: Date, _ conn: PostgresConnection, logger: Logger
    ) async throws {
        if let imap, imap.sealedPassword == nil {
            let has = try await conn.query("SELECT imap_password IS NOT NULL FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger)
                .decode(Bool.self).collect().first
            if has == false { throw NudgeError.validation("imap.password", "imap.password is required: this inbox has no stored password.") }
        }
        let removing = imap == nil
        try await conn.query(
            """
            UPDATE inboxes SET imap = \(imap?.account.json)::jsonb,
              imap_password = CASE WHEN \(removing) THEN NULL ELSE coalesce(\(imap?.sealedPassword.map { ByteBuffer(bytes: $0) }), imap_password) END,
              imap_secret_key_id = CASE WHEN \(removing) THEN NULL ELSE coalesce(\(imap?.keyID), imap_secret_key_id) END,
              imap_version = imap_version + 1, imap_status = 'unknown', imap_error = NULL, imap_failures = 0,
              imap_uidvalidity = NULL, imap_last_uid = NULL, imap_lease_until = NULL,
              imap_next_poll_at = CASE WHEN \(removing) THEN NULL ELSE \(now)::timestamptz END
            WHERE org_id = \(org) AND id = \(id)
            """, logger: logger)
    }

    /// Takes up to `limit` mailboxes due now, the longest-waiting first (fair across
    /// organizations and inboxes), leased for `lease` seconds so one worker reads each.
    package static func claimPolls(now: Date, limit: Int, lease: TimeInterval, db: Database) async throws -> [MailboxPoll] {
        try await db.system { conn in
            var out: [MailboxPoll] = []
            for try await (org, id, version, json, sealed, validity, last, okAt, failures) in try await conn.query(
                """
                UPDATE inboxes i SET imap_lease_until = \(now.addingTimeInterval(lease))
                FROM (SELECT org_id, id FROM inboxes
                      WHERE imap IS NOT NULL AND imap_next_poll_at <= \(now) AND (imap_lease_until IS NULL OR imap_lease_until < \(now))
                      ORDER BY imap_next_poll_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) due
                WHERE i.org_id = due.org_id AND i.id = due.id AND i.imap_password IS NOT NULL
                RETURNING i.org_id, i.id, i.imap_version, i.imap::text, i.imap_password, i.imap_uidvalidity, i.imap_last_uid, i.imap_ok_at,
                  i.imap_failures
                """, logger: db.logger
            ).decode((String, String, Int, String, ByteBuffer, Int64?, Int64?, Date?, Int).self) {
                guard let account = IMAPAccount.decode(json) else { continue }
                out.append(
                    MailboxPoll(
                        org: org, inboxID: id, version: version, account: account, sealedPassword: Array(buffer: sealed),
                        uidValidity: validity.flatMap { UInt32(exactly: $0) }, lastUID: last.flatMap { UInt32(exactly: $0) }, lastOK: okAt,
                        failures: failures))
            }
            return out
        }
    }

    /// Where reading got to: written after each chunk's messages were processed, so a crash
    /// re-reads at most one chunk (recognised by Message-ID). Only for the account version read.
    /// The lease is renewed with it: a long backlog keeps its reader, a dead reader's mailbox is
    /// taken over once the lease runs out.
    package static func advanceMailbox(
        org: String, id: String, version: Int, uidValidity: UInt32, lastUID: UInt32, leaseUntil: Date, db: Database
    ) async throws {
        try await db.system { conn in
            try await conn.query(
                """
                UPDATE inboxes SET imap_uidvalidity = \(Int64(uidValidity)), imap_last_uid = \(Int64(lastUID)), imap_lease_until = \(leaseUntil)
                WHERE org_id = \(org) AND id = \(id) AND imap_version = \(version)
                """, logger: db.logger)
        }
    }

    /// A poll's end: the next one's time, the lease released, the status. A change into
    /// `failing` is an `inbox.connection_failed` event (protocol `imap`), once per episode.
    package static func finishPoll(
        _ poll: MailboxPoll, error: String?, nextPollAt: Date, now: Date, db: Database
    ) async throws {
        try await db.system { conn in
            let before = try await conn.query(
                """
                SELECT imap_status FROM inboxes WHERE org_id = \(poll.org) AND id = \(poll.inboxID) AND imap_version = \(poll.version)
                FOR NO KEY UPDATE
                """, logger: db.logger
            ).decode(String.self).collect().first
            guard let before else { return }  // the account changed meanwhile: its own poll comes
            try await conn.query(
                """
                UPDATE inboxes SET imap_lease_until = NULL, imap_next_poll_at = \(nextPollAt),
                  imap_status = CASE WHEN \(error == nil) THEN 'ok' ELSE 'failing' END, imap_error = \(error),
                  imap_ok_at = CASE WHEN \(error == nil) THEN \(now) ELSE imap_ok_at END,
                  imap_failures = CASE WHEN \(error == nil) THEN 0 ELSE imap_failures + 1 END
                WHERE org_id = \(poll.org) AND id = \(poll.inboxID)
                """, logger: db.logger)
            try await connectionFailures([(poll.org, poll.inboxID, error, before)], protocol: "imap", now: now, conn, logger: db.logger)
        }
    }

    /// One inbox's IMAP account with its password, for the connection check.
    package func imapAccount(org: String, id: String) async throws -> (IMAPAccount, [UInt8], version: Int)? {
        try await db.tenant(org) { conn in
            try await conn.query(
                "SELECT imap::text, imap_password, imap_version FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger
            ).decode((String?, ByteBuffer?, Int).self).collect().first.flatMap { json, sealed, version in
                guard let account = IMAPAccount.decode(json), let sealed else { return nil }
                return (account, Array(buffer: sealed), version)
            }
        }
    }
}
