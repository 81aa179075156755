import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Owns `deliveries`: one row per enrollment step that was written, sent, retried or failed.
package enum DeliveryStore {
    /// The outcome of each of `due` (one status for all), with its Message-ID and history id where
    /// there is one ("" where not). A row written earlier (rendered, accepted, retrying) is updated.
    package static func record(
        _ due: [DueStep], kind: DeliveryKind, status: DeliveryStatus, rfcIDs: [String], messageIDs: [String],
        error: String? = nil, attempts: Int? = nil, now: Date, _ conn: PostgresConnection, logger: Logger
    ) async throws {
        let sentAt: Date? = (status == .sent || status == .reminded) ? now : nil
        try await conn.query(
            """
            INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, rfc822_message_id, message_id, status, scheduled_at, sent_at, attempts, last_error)
            SELECT u.org, u.enr, u.step, \(kind.rawValue), nullif(u.rfc, ''), nullif(u.msg, ''), \(status.rawValue), u.due, \(sentAt), u.att, \(error)
            FROM unnest(\(due.map(\.org))::text[], \(due.map(\.enrollmentID))::text[], \(due.map(\.stepIndex))::int[], \(rfcIDs)::text[], \(messageIDs)::text[],
                        \(due.map(\.scheduledAt))::timestamptz[], \(due.map { attempts ?? ($0.attempts + 1) })::int[]) AS u(org, enr, step, rfc, msg, due, att)
            ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET
              status = EXCLUDED.status, rfc822_message_id = coalesce(EXCLUDED.rfc822_message_id, deliveries.rfc822_message_id),
              message_id = coalesce(EXCLUDED.message_id, deliveries.message_id), sent_at = EXCLUDED.sent_at,
              attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error
            """, logger: logger)
    }

    /// An LLM-written step's text, kept so that a retry sends the same words.
    package static func keepRendered(_ d: DueStep, subject: String?, body: String, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            INSERT INTO deliveries (org_id, enrollment_id, step_index, kind, status, scheduled_at, rendered_subject, rendered_body)
            VALUES (\(d.org), \(d.enrollmentID), \(d.stepIndex), \(DeliveryKind.email.rawValue), \(DeliveryStatus.rendered.rawValue), \(d.dueAt), \(subject), \(body))
            ON CONFLICT (org_id, enrollment_id, step_index) DO UPDATE SET rendered_subject = EXCLUDED.rendered_subject, rendered_body = EXCLUDED.rendered_body
            """, logger: logger)
    }

    /// "The SMTP server took these steps' emails", in one round trip on a connection of its own:
    /// `mark_accepted` (migration 0011) switches to nudge_worker itself.
    package static func markAccepted(_ marks: [AcceptanceMark], db: Database) async throws {
        try await db.autocommit(
            """
            SELECT mark_accepted(\(marks.map(\.due.org))::text[], \(marks.map(\.due.enrollmentID))::text[], \(marks.map(\.due.stepIndex))::int[],
                                 \(marks.map(\.rfcID))::text[], \(marks.map(\.due.scheduledAt))::timestamptz[])
            """)
    }
}
