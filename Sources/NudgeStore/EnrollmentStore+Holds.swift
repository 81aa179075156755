import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// What an out-of-office hold needs to know about an enrollment an absence notice concerns.
package struct HoldContext: Sendable {
    package let id: String
    package let contactID: String
    package let nextDueAt: Date
    /// The end of a hold already running (a second notice replaces it).
    package let heldUntil: Date?
    /// The zone the send window is read in: the contact's, else the inbox's (as the dispatcher does).
    package let sendingTimeZone: String
    package let sendWindow: SendWindow?
    package let action: OutOfOfficeAction
    package let defaultDays: Int
}

/// A hold to set: the enrollment's next step becomes due at `nextDueAt` (after `heldUntil`).
package struct NewHold: Sendable {
    package let id: String
    package let heldUntil: Date
    package let nextDueAt: Date
    /// `YYYY-MM-DD`, nil when the notice named no date.
    package let returnDate: String?
    package let sentence: String?

    package init(id: String, heldUntil: Date, nextDueAt: Date, returnDate: String?, sentence: String?) {
        self.id = id
        self.heldUntil = heldUntil
        self.nextDueAt = nextDueAt
        self.returnDate = returnDate
        self.sentence = sentence
    }
}

/// A hold that ended (`releaseHolds`).
package struct EndedHold: Sendable {
    package let org: String
    package let id: String
    package let contactID: String
    package let heldUntil: Date
    package let nextDueAt: Date?
    package let returnDate: String?
    package let sentence: String?
}

extension EnrollmentStore {
    /// The active enrollments among `ids` (already locked by `ReplyTargets`) with their inbox's
    /// window, the zone it is read in, and their sequence version's `on_out_of_office` settings.
    package static func holdContext(org: String, ids: [String], _ conn: PostgresConnection, logger: Logger) async throws -> [HoldContext] {
        guard !ids.isEmpty else { return [] }
        var out: [HoldContext] = []
        for try await (id, contact, due, held, tz, window, action, days) in try await conn.query(
            """
            SELECT e.id, e.contact_id, e.next_due_at, e.held_until, coalesce(nullif(c.timezone, ''), i.timezone), i.send_window::text,
              v.definition ->> 'on_out_of_office', (v.definition ->> 'ooo_default_days')::int
            FROM enrollments e JOIN inboxes i ON i.org_id = e.org_id AND i.id = e.inbox_id
            LEFT JOIN contacts c ON c.org_id = e.org_id AND c.id = e.contact_id
            LEFT JOIN sequence_versions v ON v.org_id = e.org_id AND v.sequence_id = e.sequence_id AND v.version = e.sequence_version
            WHERE e.org_id = \(org) AND e.id = ANY(\(ids)) AND e.state = \(EnrollmentState.active.rawValue) AND e.next_due_at IS NOT NULL
            ORDER BY e.id
            """, logger: logger
        ).decode((String, String, Date, Date?, String, String?, String?, Int?).self) {
            out.append(
                HoldContext(
                    id: id, contactID: contact, nextDueAt: due, heldUntil: held, sendingTimeZone: tz,
                    sendWindow: try window.map { try JSONCoding.decoder.decode(SendWindow.self, from: Data($0.utf8)) },
                    action: action.flatMap(OutOfOfficeAction.init(rawValue:)) ?? .hold, defaultDays: days ?? OutOfOfficeAction.defaultDays))
        }
        return out
    }

    /// Sets out-of-office holds on active enrollments; returns the ids held. The state stays
    /// `active`: the claim skips a row with a hold, and its step is due only after it.
    package static func hold(org: String, _ holds: [NewHold], now: Date, _ conn: PostgresConnection, logger: Logger) async throws -> [String] {
        guard !holds.isEmpty else { return [] }
        return try await conn.query(
            """
            UPDATE enrollments e SET held_until = u.until, hold_reason = 'out_of_office', hold_return_date = nullif(u.rd, '')::date,
              hold_sentence = nullif(u.s, ''), next_due_at = u.due, updated_at = \(now)
            FROM unnest(\(holds.map(\.id))::text[], \(holds.map(\.heldUntil))::timestamptz[], \(holds.map(\.nextDueAt))::timestamptz[],
                        \(holds.map { $0.returnDate ?? "" })::text[], \(holds.map { $0.sentence ?? "" })::text[]) AS u(id, until, due, rd, s)
            WHERE e.org_id = \(org) AND e.id = u.id AND e.state = \(EnrollmentState.active.rawValue)
            RETURNING e.id
            """, logger: logger
        ).decode(String.self).collect()
    }

    /// Ends up to `limit` holds that are over, across organizations, each once: claimed with
    /// `SKIP LOCKED` so that concurrent workers take different rows, cleared and announced
    /// (`enrollment.resumed`) in the same transaction.
    package static func releaseHolds(now: Date, limit: Int, _ conn: PostgresConnection, logger: Logger) async throws -> [EndedHold] {
        let rows = try await conn.query(
            """
            WITH due AS (
              SELECT org_id, id, held_until, to_char(hold_return_date, 'YYYY-MM-DD') AS rd, hold_sentence FROM enrollments
              WHERE held_until <= \(now) AND state = \(EnrollmentState.active.rawValue)
              ORDER BY held_until LIMIT \(limit) FOR NO KEY UPDATE SKIP LOCKED)
            UPDATE enrollments e SET held_until = NULL, hold_reason = NULL, hold_return_date = NULL, hold_sentence = NULL, updated_at = \(now)
            FROM due WHERE e.org_id = due.org_id AND e.id = due.id
            RETURNING e.org_id, e.id, e.contact_id, due.held_until, e.next_due_at, due.rd, due.hold_sentence
            """, logger: logger
        ).decode((String, String, String, Date, Date?, String?, String?).self).collect()
        let ended = rows.map { EndedHold(org: $0.0, id: $0.1, contactID: $0.2, heldUntil: $0.3, nextDueAt: $0.4, returnDate: $0.5, sentence: $0.6) }
        try await Events.append(
            ended.map {
                PendingEvent(
                    org: $0.org, type: .enrollmentResumed,
                    [
                        "enrollment_id": .string($0.id), "contact_id": .string($0.contactID), "reason": .string("out_of_office_ended"),
                        "held_until": .string(RFC3339.string($0.heldUntil)), "next_due_at": .str($0.nextDueAt.map(RFC3339.string)),
                        "return_date": .str($0.returnDate), "sentence": .str($0.sentence),
                    ])
            }, at: now, on: conn, logger: logger)
        return ended
    }
}
