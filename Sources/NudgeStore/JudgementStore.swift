import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// A claimed judgement with what the judge needs to decide it.
package struct PendingJudgement: Sendable {
    package let org, id, messageID, enrollmentID, contactID: String
    package let attempts: Int
    package let condition: String?
    package let from, subject, classification, text: String
}

/// Owns `judgements`: replies waiting to be judged against an exit condition.
package struct JudgementStore: Sendable {
    package let db: Database
    package var logger: Logger { db.logger }

    package init(db: Database) { self.db = db }

    /// Queues one judgement per target of a stored inbound message.
    package static func queue(org: String, messageID: String, _ targets: [ReplyTarget], now: Date, _ conn: PostgresConnection, logger: Logger)
        async throws
    {
        try await conn.query(
            """
            INSERT INTO judgements (org_id, id, message_id, enrollment_id, contact_id, state, next_attempt_at, created_at)
            SELECT \(org), u.id, \(messageID), u.enr, u.contact, \(JudgementState.pending.rawValue), \(now), \(now)
            FROM unnest(\(targets.map { _ in ID.make(.jdg) })::text[], \(targets.map(\.id))::text[], \(targets.map(\.contactID))::text[]) AS u(id, enr, contact)
            """, logger: logger)
    }

    /// Claims due judgements, leased until `leaseUntil`, with what the judge needs, in one
    /// statement (no per-row round trips).
    package func claim(now: Date, leaseUntil: Date, limit: Int) async throws -> [PendingJudgement] {
        try await db.system { [logger] conn in
            var out: [PendingJudgement] = []
            for try await r in try await conn.query(
                """
                WITH due AS (
                  SELECT org_id, id FROM judgements WHERE state = \(JudgementState.pending.rawValue) AND next_attempt_at <= \(now)
                  ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                claimed AS (
                  UPDATE judgements j SET next_attempt_at = \(leaseUntil), attempts = j.attempts + 1
                  FROM due WHERE j.org_id = due.org_id AND j.id = due.id
                  RETURNING j.org_id, j.id, j.message_id, j.enrollment_id, j.contact_id, j.attempts)
                SELECT c.org_id, c.id, c.message_id, c.enrollment_id, c.contact_id, c.attempts, e.exit_condition_prompt,
                       m.from_address, m.subject, coalesce(m.classification, 'other'), coalesce(nullif(m.reply_text, ''), m.text_body)
                FROM claimed c
                JOIN enrollments e ON e.org_id = c.org_id AND e.id = c.enrollment_id
                JOIN messages m ON m.org_id = c.org_id AND m.id = c.message_id
                """, logger: logger)
            {
                let r = r.makeRandomAccess()
                out.append(
                    PendingJudgement(
                        org: try r[0].decode(String.self), id: try r[1].decode(String.self), messageID: try r[2].decode(String.self),
                        enrollmentID: try r[3].decode(String.self), contactID: try r[4].decode(String.self), attempts: try r[5].decode(Int.self),
                        condition: try r[6].decode(String?.self), from: try r[7].decode(String.self), subject: try r[8].decode(String.self),
                        classification: try r[9].decode(String.self), text: try r[10].decode(String.self)))
            }
            return out
        }
    }

    package func retry(_ p: PendingJudgement, at: Date) async throws {
        try await db.tenant(p.org) { [logger] conn in
            try await conn.query("UPDATE judgements SET next_attempt_at = \(at) WHERE org_id = \(p.org) AND id = \(p.id)", logger: logger)
        }
    }

    /// The verdict: the judgement is done, an `exit` ends the enrollment (`exit_condition`), the
    /// model call is audited and the contact's hold is lifted, in one transaction.
    package func decide(_ p: PendingJudgement, exit: Bool, reason: String, call: LLMCall?, now: Date) async throws {
        try await db.tenant(p.org) { [logger] conn in
            try await conn.query(
                """
                UPDATE judgements SET state = \(JudgementState.done.rawValue), verdict = \(exit), reason = \(reason) WHERE org_id = \(p.org) AND id = \(p.id)
                """, logger: logger)
            if exit {
                _ = try await EnrollmentStore.finish(
                    org: p.org, enrollmentIDs: [p.enrollmentID], state: .exited, reason: .exit_condition,
                    detail: "\(reason) (message \(p.messageID))", now: now, conn, logger: logger)
            }
            if let call { try await LLMCallStore.insert(call, now: now, conn, logger: logger) }
            try await EnrollmentStore.releaseHold(org: p.org, contactID: p.contactID, conn, logger: logger)
        }
    }

    /// A judgement that cannot be made: it fails, and its enrollment pauses for review
    /// (`needs_review`): never silently continue, never silently stop.
    package func fail(_ p: PendingJudgement, error: String, now: Date) async throws {
        try await db.tenant(p.org) { [logger] conn in
            try await conn.query(
                """
                UPDATE judgements SET state = \(JudgementState.failed.rawValue), reason = \(String(error.prefix(500))) WHERE org_id = \(p.org) AND id = \(p.id)
                """, logger: logger)
            let paused = try await EnrollmentStore.pauseForReview(
                org: p.org, id: p.enrollmentID,
                detail: "needs_review: the exit condition could not be judged for message \(p.messageID) (\(error.prefix(300)))",
                now: now, conn, logger: logger)
            var events = [
                PendingEvent(
                    org: p.org, type: .judgementFailed,
                    ["enrollment_id": .string(p.enrollmentID), "message_id": .string(p.messageID), "error": .string(String(error.prefix(300)))])
            ]
            if paused {
                events.append(
                    PendingEvent(
                        org: p.org, type: .enrollmentPaused,
                        ["enrollment_id": .string(p.enrollmentID), "contact_id": .string(p.contactID), "reason": "needs_review"]))
            }
            try await Events.append(events, at: now, on: conn, logger: logger)
            try await EnrollmentStore.releaseHold(org: p.org, contactID: p.contactID, conn, logger: logger)
        }
    }

    /// Judgements due now, for `drainWork` to know when it is done.
    package func countDue(now: Date) async throws -> Int {
        try await db.system { [logger] conn in
            try await conn.query(
                """
                SELECT count(*) FROM judgements WHERE state = \(JudgementState.pending.rawValue) AND next_attempt_at <= \(now)
                """, logger: logger
            ).decode(Int.self).collect().first ?? 0
        }
    }
}
