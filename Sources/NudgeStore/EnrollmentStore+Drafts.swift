import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// The enrollment side of approval drafts (README, "Approval drafts"): waiting for a decision,
/// and what a decision does to the enrollment. `draft_pending` is set while the current step has
/// a draft (waiting, or approved and not yet sent): the dispatcher's claim looks drafts up only
/// then, and an enrollment that stops running voids a waiting one (migration 0026's trigger).
extension EnrollmentStore {
    /// Locks the enrollment before its draft is decided (the dispatcher's order: enrollment, then draft).
    package static func lockForDraft(org: String, id: String, _ conn: PostgresConnection, logger: Logger) async throws {
        _ = try await conn.query("SELECT 1 FROM enrollments WHERE org_id = \(org) AND id = \(id) FOR NO KEY UPDATE", logger: logger).collect()
    }

    /// Enrollments whose step became a draft wait for the decision, at the latest until it expires.
    package static func awaitDrafts(_ drafts: [DraftStore.NewDraft], _ conn: PostgresConnection, logger: Logger) async throws {
        guard !drafts.isEmpty else { return }
        try await conn.query(
            """
            UPDATE enrollments e SET draft_pending = true, next_due_at = u.until
            FROM unnest(\(drafts.map(\.org))::text[], \(drafts.map(\.enrollmentID))::text[], \(drafts.map(\.expiresAt))::timestamptz[])
              AS u(org, id, until)
            WHERE e.org_id = u.org AND e.id = u.id
            """, logger: logger)
    }

    /// An approved step is due now (a paused enrollment sends it once resumed). `draft_pending`
    /// stays set until the step is sent: the dispatcher's claim reads drafts only where it is.
    package static func draftApproved(org: String, id: String, step: Int, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET next_due_at = \(now), updated_at = \(now)
            WHERE org_id = \(org) AND id = \(id) AND next_step = \(step) AND state IN ('active', 'paused')
            """, logger: logger)
    }

    /// A rejected step is skipped: the enrollment moves to the next step, due after its delay, or
    /// completes after the last. A paused enrollment cannot complete (resume it first).
    package static func skipStep(org: String, id: String, step: Int, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        let rows = try await conn.query(
            """
            SELECT state, contact_id, \(unescaped: EnrollmentRecord.stepsColumn) FROM enrollments WHERE org_id = \(org) AND id = \(id)
            """, logger: logger
        ).decode((String, String, String).self).collect()
        guard let (state, contact, stepsJSON) = rows.first, state == "active" || state == "paused" else { return }
        let steps = try JSONCoding.decoder.decode([Step].self, from: Data(stepsJSON.utf8))
        let done = step + 1 >= steps.count
        if done && state == "paused" {
            throw NudgeError.conflict("The enrollment is paused at its last step; resume it before skipping that step.", param: "action")
        }
        let next: Date? = done ? nil : now.addingTimeInterval(steps[step + 1].delaySeconds)
        try await conn.query(
            """
            UPDATE enrollments SET next_step = next_step + 1, attempts = 0, draft_pending = false, updated_at = \(now),
              state = CASE WHEN \(done) THEN \(EnrollmentState.completed.rawValue) ELSE state END, next_due_at = \(next)
            WHERE org_id = \(org) AND id = \(id) AND next_step = \(step)
            """, logger: logger)
        if done {
            try await Events.append(
                [PendingEvent(org: org, type: .enrollmentCompleted, ["enrollment_id": .string(id), "contact_id": .string(contact)])], at: now,
                on: conn, logger: logger)
        }
    }

    /// `stop_on_company_reply`: a human reply concerning `replied` (enrollments of the sender), of
    /// which `stopping` are in sequences with the setting, stops the other running enrollments of
    /// those sequences whose recipients are at the same registrable `domain` (the domain itself or a
    /// subdomain). Returns their exit events.
    package static func stopCompany(
        org: String, replied: [String], stopping: [String], domain: String, detail: String, now: Date, _ conn: PostgresConnection,
        logger: Logger
    ) async throws -> [(id: String, event: PendingEvent)] {
        guard !stopping.isEmpty else { return [] }
        let rows = try await conn.query(
            """
            UPDATE enrollments x SET state = \(EnrollmentState.exited.rawValue), exit_reason = \(ExitReason.company_replied.rawValue),
              exit_detail = \(detail), next_due_at = NULL, updated_at = \(now)
            FROM (SELECT DISTINCT sequence_id FROM enrollments
                  WHERE org_id = \(org) AND id = ANY(\(stopping)) AND stop_on_company_reply AND sequence_id IS NOT NULL) s
            WHERE x.org_id = \(org) AND x.sequence_id = s.sequence_id AND x.state IN (\(unescaped: EnrollmentState.sqlSources(of: .exited)))
              AND NOT x.id = ANY(\(replied))
              AND (split_part(x.recipient_key, '@', 2) = \(domain) OR split_part(x.recipient_key, '@', 2) LIKE '%.' || \(domain))
            RETURNING x.id, x.contact_id
            """, logger: logger
        ).decode((String, String).self).collect()
        return rows.map { ($0, finishedEvent(org: org, id: $0, contactID: $1, state: .exited, reason: .company_replied, detail: detail)) }
    }
}
