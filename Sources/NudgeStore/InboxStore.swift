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
    public let pacing: InboxPacing?
    /// The local day the ramp-up began ("YYYY-MM-DD").
    public let ramp_started_on: String?
    public let paused: Bool
    public let paused_reason: String?
    public let paused_at: Date?
    /// The inbox's own SMTP account (its password is never shown), or nil: it sends through the relay.
    public let smtp: SMTPAccountView?
    /// The IMAP account replies are read from, or nil: replies come through the inbound endpoint.
    public let imap: IMAPAccountView?
    public let connection: InboxConnection?
    public let created_at: Date
    public let updated_at: Date
}

public struct InboxStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    package static let columns = """
        id, address, display_name, timezone, send_window::text, daily_send_limit, created_at, updated_at, pacing::text, \
        to_char(ramp_started_on, 'YYYY-MM-DD'), paused_at, paused_reason, smtp::text, smtp_status, connection_error, connection_ok_at, \
        imap::text, imap_status, imap_error, imap_ok_at
        """

    package static func record(_ row: PostgresRow) throws -> InboxRecord {
        let r = row.makeRandomAccess()
        let (id, address, name, tz, window, limit, created, updated, pacing, ramp, pausedAt, pausedReason, smtp, status, error, okAt) = (
            try r[0].decode(String.self), try r[1].decode(String.self), try r[2].decode(String?.self), try r[3].decode(String.self),
            try r[4].decode(String?.self), try r[5].decode(Int?.self), try r[6].decode(Date.self), try r[7].decode(Date.self),
            try r[8].decode(String?.self), try r[9].decode(String?.self), try r[10].decode(Date?.self), try r[11].decode(String?.self),
            try r[12].decode(String?.self), try r[13].decode(String.self), try r[14].decode(String?.self), try r[15].decode(Date?.self)
        )
        let (imap, imapStatus, imapError, imapOK) = (
            IMAPAccount.decode(try r[16].decode(String?.self)), try r[17].decode(String.self), try r[18].decode(String?.self),
            try r[19].decode(Date?.self)
        )
        let w = try window.map { try JSONCoding.decoder.decode(SendWindow.self, from: Data($0.utf8)) }
        let account = SMTPAccount.decode(smtp)
        return InboxRecord(
            id: id, address: address, display_name: name, timezone: tz, send_window: w, daily_send_limit: limit,
            pacing: InboxPacing.decode(pacing), ramp_started_on: ramp, paused: pausedAt != nil, paused_reason: pausedReason, paused_at: pausedAt,
            smtp: account.map(SMTPAccountView.init), imap: imap.map(IMAPAccountView.init),
            connection: account == nil && imap == nil
                ? nil
                : InboxConnection(
                    smtp_status: account == nil ? nil : status, last_error: error, last_ok_at: okAt, imap_status: imap == nil ? nil : imapStatus,
                    imap_last_error: imapError, imap_last_ok_at: imapOK),
            created_at: created, updated_at: updated)
    }

    package static func windowJSON(_ w: SendWindow?) -> String? {
        w.flatMap { try? String(decoding: JSONCoding.encoder.encode($0), as: UTF8.self) }
    }

    /// `anyDomain`: the server lets organizations send from any domain (--dev, or the operator's
    /// NUDGE_ALLOW_ANY_SENDER_DOMAIN); otherwise the address must be on one of the organization's
    /// sender domains.
    public func create(
        org: String, address: String, domain: String, displayName: String?, timezone: String, window: SendWindow?, dailyLimit: Int?,
        pacing: InboxPacing? = nil, id presetID: String? = nil, smtp: SealedAccount<SMTPAccount>? = nil,
        imap: SealedAccount<IMAPAccount>? = nil, anyDomain: Bool, now: Date
    ) async throws -> InboxRecord {
        let rampDay = pacing?.ramp_up != nil ? ScheduleMath.localDay(now, TimeZone(identifier: timezone) ?? .gmt) : nil
        let id = presetID ?? ID.make(.inb)
        do {
            return try await db.tenant(org) { conn in
                if !anyDomain, try await !SenderDomainStore.isAllowed(org: org, domain: domain, conn, logger: logger) {
                    throw NudgeError.validation(
                        "address",
                        "This organization may not send from \(domain): verify the domain (POST /v1/domains/, then publish its DKIM records), or an operator allows it with `nudge domain allow --org \(org) \(domain)`."
                    )
                }
                try await conn.query(
                    """
                    INSERT INTO inboxes (org_id, id, address, display_name, timezone, send_window, daily_send_limit, created_at, updated_at,
                      pacing, ramp_started_on, smtp, smtp_password, secret_key_id, smtp_version)
                    VALUES (\(org), \(id), \(address), \(displayName), \(timezone), \(Self.windowJSON(window))::jsonb, \(dailyLimit), \(now), \(now),
                      \(pacing?.json)::jsonb, \(rampDay)::date, \(smtp?.account.json)::jsonb, \(smtp?.sealedPassword.map { ByteBuffer(bytes: $0) }),
                      \(smtp?.keyID), \(smtp == nil ? 0 : 1))
                    """, logger: logger)
                if let imap { try await Self.setIMAP(org: org, id: id, imap, now: now, conn, logger: logger) }
                return try await get(org: org, id: id, conn)!
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
        package var pacing: InboxPacing?? = nil
        /// true pauses (reason `manual`), false resumes.
        package var paused: Bool? = nil
        /// `.some(nil)` removes the inbox's own account (back to the relay). A sealed account
        /// without a password keeps the stored one.
        package var smtp: SealedAccount<SMTPAccount>?? = nil
        /// As `smtp`, for the account replies are read from.
        package var imap: SealedAccount<IMAPAccount>?? = nil

        package init(displayName: String?? = nil, timezone: String? = nil, window: SendWindow?? = nil, dailyLimit: Int?? = nil) {
            self.displayName = displayName
            self.timezone = timezone
            self.window = window
            self.dailyLimit = dailyLimit
        }
    }

    public func update(org: String, id: String, patch: Patch, now: Date) async throws -> InboxRecord? {
        try await db.tenant(org) { conn in
            let setPacing = patch.pacing != nil
            let removing = patch.smtp != nil && (patch.smtp ?? nil) == nil
            let sealed = (patch.smtp ?? nil)?.sealedPassword.map { ByteBuffer(bytes: $0) }
            if let account = patch.smtp ?? nil, account.sealedPassword == nil {
                let has = try await conn.query("SELECT smtp_password IS NOT NULL FROM inboxes WHERE org_id = \(org) AND id = \(id)", logger: logger)
                    .decode(Bool.self).collect().first
                if has == false { throw NudgeError.validation("smtp.password", "smtp.password is required: this inbox has no stored password.") }
            }
            let pacingJSON = (patch.pacing ?? nil)?.json
            let ramps = (patch.pacing ?? nil)?.ramp_up != nil
            let wasPaused = try await conn.query(
                "SELECT paused_at IS NOT NULL, timezone FROM inboxes WHERE org_id = \(org) AND id = \(id) FOR UPDATE", logger: logger
            ).decode((Bool, String).self).collect().first
            guard let (paused, tz) = wasPaused else { return nil }
            let today = ScheduleMath.localDay(now, TimeZone(identifier: patch.timezone ?? tz) ?? .gmt)
            if let imap = patch.imap { try await Self.setIMAP(org: org, id: id, imap, now: now, conn, logger: logger) }
            if let smtp = patch.smtp {
                try await EnrollmentStore.follow(org: org, inbox: id, throughAccount: smtp != nil, conn, logger: logger)
            }
            if let p = patch.paused, p != paused {
                try await Events.append(
                    [
                        PendingEvent(
                            org: org, type: p ? .inboxPaused : .inboxResumed,
                            p ? ["inbox_id": .string(id), "reason": .string("manual")] : ["inbox_id": .string(id)])
                    ], at: now, on: conn, logger: logger)
            }
            return try await conn.query(
                """
                UPDATE inboxes SET
                  pacing = CASE WHEN \(setPacing) THEN \(pacingJSON)::jsonb ELSE pacing END,
                  ramp_started_on = CASE WHEN NOT \(ramps) AND \(setPacing) THEN NULL WHEN \(ramps) THEN coalesce(ramp_started_on, \(today)::date)
                    ELSE ramp_started_on END,
                  paused_at = CASE WHEN \(patch.paused)::bool IS NULL THEN paused_at WHEN \(patch.paused ?? false) THEN coalesce(paused_at, \(now)) END,
                  paused_reason = CASE WHEN \(patch.paused)::bool IS NULL THEN paused_reason WHEN \(patch.paused ?? false)
                    THEN coalesce(paused_reason, 'manual') END,
                  display_name = CASE WHEN \(patch.displayName != nil) THEN \(patch.displayName ?? nil) ELSE display_name END,
                  timezone = coalesce(\(patch.timezone), timezone),
                  send_window = CASE WHEN \(patch.window != nil) THEN \(Self.windowJSON(patch.window ?? nil))::jsonb ELSE send_window END,
                  daily_send_limit = CASE WHEN \(patch.dailyLimit != nil) THEN \(patch.dailyLimit ?? nil) ELSE daily_send_limit END,
                  smtp = CASE WHEN \(patch.smtp != nil) THEN \((patch.smtp ?? nil)?.account.json)::jsonb ELSE smtp END,
                  smtp_password = CASE WHEN \(patch.smtp != nil) THEN coalesce(\(sealed), CASE WHEN \(removing) THEN NULL ELSE smtp_password END)
                    ELSE smtp_password END,
                  secret_key_id = CASE WHEN \(patch.smtp != nil) THEN coalesce(\((patch.smtp ?? nil)?.keyID), CASE WHEN \(removing) THEN NULL
                    ELSE secret_key_id END) ELSE secret_key_id END,
                  smtp_version = CASE WHEN \(patch.smtp != nil) THEN smtp_version + 1 ELSE smtp_version END,
                  smtp_status = CASE WHEN \(patch.smtp != nil) THEN 'unknown' ELSE smtp_status END,
                  connection_error = CASE WHEN \(patch.smtp != nil) THEN NULL ELSE connection_error END,
                  updated_at = \(now)
                WHERE org_id = \(org) AND id = \(id)
                RETURNING \(unescaped: Self.columns)
                """, logger: logger
            ).first { _ in true }.map(Self.record)
        }
    }

    /// Takes the next send slot of each paced inbox that has one free now: the next slot is then
    /// `wait` seconds later (the gap plus this batch's jitter). One short transaction; the row lock
    /// makes concurrent batches take turns, so two sends of an inbox are never closer than its gap.
    package static func takePacingSlots(_ inboxes: [(org: String, id: String, wait: Double)], now: Date, db: Database) async throws -> Set<String> {
        guard !inboxes.isEmpty else { return [] }
        let sorted = inboxes.sorted { ($0.org, $0.id) < ($1.org, $1.id) }
        return try await db.system { conn in
            Set(
                try await conn.query(
                    """
                    UPDATE inboxes i SET next_send_at = \(now)::timestamptz + make_interval(secs => u.wait)
                    FROM unnest(\(sorted.map(\.org))::text[], \(sorted.map(\.id))::text[], \(sorted.map(\.wait))::float8[]) AS u(org, id, wait)
                    WHERE i.org_id = u.org AND i.id = u.id AND (i.next_send_at IS NULL OR i.next_send_at <= \(now))
                    RETURNING i.id
                    """, logger: db.logger
                ).decode(String.self).collect())
        }
    }

    /// Appends a batch's outcomes to each inbox's last 100 (`ok` sends, `bounced` hard bounces)
    /// and pauses those whose hard bounces now exceed their threshold of 100 sends.
    package static func recordOutcomes(
        _ outcomes: [(org: String, inbox: String, ok: Int, bounced: Int)], now: Date, _ conn: PostgresConnection, logger: Logger
    ) async throws {
        guard !outcomes.isEmpty else { return }
        let sorted = outcomes.sorted { ($0.org, $0.inbox) < ($1.org, $1.inbox) }
        let rows = try await conn.query(
            """
            INSERT INTO inbox_health AS h (org_id, inbox_id, outcomes)
            SELECT u.org, u.inbox, array_fill(false, ARRAY[u.ok]) || array_fill(true, ARRAY[u.bad])
            FROM unnest(\(sorted.map(\.org))::text[], \(sorted.map(\.inbox))::text[], \(sorted.map(\.ok))::int[], \(sorted.map(\.bounced))::int[])
              AS u(org, inbox, ok, bad)
            ON CONFLICT (org_id, inbox_id) DO UPDATE
              SET outcomes = (h.outcomes || EXCLUDED.outcomes)[greatest(1, cardinality(h.outcomes || EXCLUDED.outcomes) - 99):]
            RETURNING org_id, inbox_id, (SELECT count(*) FROM unnest(h.outcomes) v WHERE v)::int
            """, logger: logger
        ).decode((String, String, Int).self).collect()
        let bouncedNow = Set(sorted.filter { $0.bounced > 0 }.map { "\($0.org)/\($0.inbox)" })
        for (org, inbox, bounces) in rows where bouncedNow.contains("\(org)/\(inbox)") {
            try await pauseIfOverThreshold(org: org, inbox: inbox, bounces: bounces, now: now, conn, logger: logger)
        }
    }

    /// A bounce reported after the send (a delivery status notification): the latest send not
    /// yet counted as bounced is, and the inbox pauses if that takes it over its threshold.
    package static func recordLateBounce(org: String, inbox: String, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        let rows = try await conn.query(
            """
            UPDATE inbox_health h SET outcomes = coalesce((
              SELECT array_agg(CASE WHEN x.i = (SELECT max(y.i) FROM unnest(h.outcomes) WITH ORDINALITY AS y(v, i) WHERE NOT y.v) THEN true ELSE x.v END
                     ORDER BY x.i)
              FROM unnest(h.outcomes) WITH ORDINALITY AS x(v, i)), h.outcomes)
            WHERE h.org_id = \(org) AND h.inbox_id = \(inbox)
            RETURNING (SELECT count(*) FROM unnest(h.outcomes) v WHERE v)::int
            """, logger: logger
        ).decode(Int.self).collect()
        if let bounces = rows.first { try await pauseIfOverThreshold(org: org, inbox: inbox, bounces: bounces, now: now, conn, logger: logger) }
    }

    /// The rate is over 100 sends: fewer sends so far count as a partial window, so one early
    /// bounce alone does not pause a new inbox.
    static func pauseIfOverThreshold(org: String, inbox: String, bounces: Int, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        let threshold =
            try await conn.query(
                "SELECT (pacing ->> 'bounce_pause_threshold')::float8 FROM inboxes WHERE org_id = \(org) AND id = \(inbox)", logger: logger
            ).decode(Double?.self).collect().first ?? nil
        let limit = threshold ?? InboxPacing.defaultBounceThreshold
        guard Double(bounces) / 100 > limit else { return }
        _ = try await pause(
            org: org, inbox: inbox, reason: "bounce_rate",
            detail: ["hard_bounces_in_last_100_sends": .number(Double(bounces)), "threshold": .number(limit)],
            now: now, conn, logger: logger)
    }

    /// Pauses an inbox (no step is sent from it until a PATCH resumes it) with `inbox.paused`;
    /// false when it was paused already.
    package static func pause(
        org: String, inbox: String, reason: String, detail: [String: JSONValue] = [:], now: Date, _ conn: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        let rows = try await conn.query(
            """
            UPDATE inboxes SET paused_at = \(now), paused_reason = \(reason), updated_at = \(now)
            WHERE org_id = \(org) AND id = \(inbox) AND paused_at IS NULL RETURNING id
            """, logger: logger
        ).collect()
        guard !rows.isEmpty else { return false }
        var data: [String: JSONValue] = ["inbox_id": .string(inbox), "reason": .string(reason)]
        data.merge(detail) { a, _ in a }
        try await Events.append([PendingEvent(org: org, type: .inboxPaused, data)], at: now, on: conn, logger: logger)
        return true
    }

    package init(db: Database) {
        self.db = db
    }
}
