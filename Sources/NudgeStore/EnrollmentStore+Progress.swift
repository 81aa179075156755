import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// The dispatcher's, writer's and judge's changes to enrollments: moving to the next step,
/// waiting, retrying, pausing for review, holding for a judgement. Every change of state is
/// guarded by `EnrollmentState.sqlSources(of:)`.
extension EnrollmentStore {
    /// The inbox's running enrollments follow its transport when its SMTP account is set or
    /// removed (`through_account`, migration 0033), in the caller's transaction.
    package static func follow(org: String, inbox: String, throughAccount: Bool, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET through_account = \(throughAccount)
            WHERE org_id = \(org) AND inbox_id = \(inbox) AND state IN ('active', 'paused') AND through_account <> \(throughAccount)
            """, logger: logger)
    }

    /// Moves enrollments to their next step (due after its delay) or completes them, and records
    /// the completions in the feed after the batch's own events.
    package static func advance(_ due: [DueStep], threadIDs: [String], now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        let completed = due.map { $0.stepIndex + 1 >= $0.stepCount }
        let next = due.map { d in d.nextStep.map { now.addingTimeInterval($0.delaySeconds) } ?? now }
        try await conn.query(
            """
            UPDATE enrollments e SET next_step = e.next_step + 1, attempts = 0, updated_at = \(now), draft_pending = false,
              thread_id = coalesce(e.thread_id, nullif(u.thread, '')),
              state = CASE WHEN u.done THEN \(EnrollmentState.completed.rawValue) ELSE e.state END,
              next_due_at = CASE WHEN u.done THEN NULL ELSE u.next END
            FROM unnest(\(due.map(\.org))::text[], \(due.map(\.enrollmentID))::text[], \(completed)::bool[], \(next)::timestamptz[], \(threadIDs)::text[])
              AS u(org, id, done, next, thread)
            WHERE e.org_id = u.org AND e.id = u.id AND e.state IN (\(unescaped: EnrollmentState.sqlSources(of: .completed)))
            """, logger: logger)
        let done = zip(due, completed).filter(\.1).map(\.0)
        try await Events.append(
            done.map {
                PendingEvent(
                    org: $0.org, type: .enrollmentCompleted, ["enrollment_id": .string($0.enrollmentID), "contact_id": .string($0.contactID)])
            },
            at: now, on: conn, logger: logger)
    }

    /// Steps that must wait (a send window, a daily limit) become due again at the given times.
    package static func reschedule(_ deferred: [(DueStep, Date)], _ conn: PostgresConnection, logger: Logger) async throws {
        guard !deferred.isEmpty else { return }
        try await conn.query(
            """
            UPDATE enrollments e SET next_due_at = u.due FROM unnest(\(deferred.map(\.0.org))::text[], \(deferred.map(\.0.enrollmentID))::text[], \(deferred.map(\.1))::timestamptz[]) AS u(org, id, due)
            WHERE e.org_id = u.org AND e.id = u.id
            """, logger: logger)
    }

    /// A temporary failure: the step is tried again at `at`, counting the attempt.
    package static func retryLater(_ d: DueStep, attempts: Int, at: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET attempts = \(attempts), next_due_at = \(at)
            WHERE org_id = \(d.org) AND id = \(d.enrollmentID)
            """, logger: logger)
    }

    /// A written step is due now, if the enrollment still runs.
    package static func dueNow(_ d: DueStep, now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET next_due_at = \(now) WHERE org_id = \(d.org) AND id = \(d.enrollmentID) AND state = \(EnrollmentState.active.rawValue)
            """, logger: logger)
    }

    /// Pauses an active enrollment for a person to look at (`detail` says why); false when it was
    /// not active. The caller writes the event with its own.
    package static func pauseForReview(org: String, id: String, detail: String, now: Date, _ conn: PostgresConnection, logger: Logger) async throws
        -> Bool
    {
        let rows = try await conn.query(
            """
            UPDATE enrollments SET state = \(EnrollmentState.paused.rawValue), exit_detail = \(detail), updated_at = \(now)
            WHERE org_id = \(org) AND id = \(id) AND state IN (\(unescaped: EnrollmentState.sqlSources(of: .paused))) RETURNING id
            """, logger: logger
        ).collect()
        return !rows.isEmpty
    }

    /// Lifts the send hold on a contact once none of its messages awaits judgement.
    package static func releaseHold(org: String, contactID: String, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET held = false WHERE org_id = \(org) AND contact_id = \(contactID) AND held
            AND NOT EXISTS (SELECT 1 FROM judgements j WHERE j.org_id = \(org) AND j.contact_id = \(contactID) AND j.state = \(JudgementState.pending.rawValue))
            """, logger: logger)
    }

    /// Steps due now (not held for a judgement; an out-of-office hold that is over counts), for `drainWork` to know when it is done.
    package static func countDue(now: Date, _ conn: PostgresConnection, logger: Logger) async throws -> Int {
        try await conn.query(
            """
            SELECT count(*) FROM enrollments WHERE state = \(EnrollmentState.active.rawValue) AND next_due_at <= \(now) AND NOT held
              AND (held_until IS NULL OR held_until <= \(now))
            """, logger: logger
        ).decode(Int.self).collect().first ?? 0
    }
}
