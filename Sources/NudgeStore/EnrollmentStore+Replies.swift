import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// A running enrollment an inbound message concerns, locked by `ReplyTargets`.
package struct ReplyTarget: Sendable {
    package let id: String
    package let contactID: String
    package let exitOnReply: Bool
    package let hasPrompt: Bool
    /// Exited on this reply.
    package let stopped: Bool
}

extension EnrollmentStore {
    /// The running enrollments a message from the contact, or in a thread an enrollment writes
    /// into, concerns: each locked, and with `stop` (a human reply) each marked replied (the
    /// first reply's time and the last step sent before it, for statistics) and those that exit
    /// on reply set `exited/replied`,
    /// in one round trip. Two equality probes, each on its own index, then each enrollment locked
    /// by primary key in id order (the same order for every reply): one OR over both let
    /// statistics that predate a bulk enrollment pick a scan of every running enrollment of the
    /// organization (ops/bench inbound, auto_explain: 218 ms, 20,001 rows removed by the filter).
    /// Prepared: planning it took 1.04 ms against 0.34 ms to run it. The exit sets the columns
    /// `EnrollmentStore.finish` sets, and its events come from `EnrollmentStore.finishedEvent`.
    package struct ReplyTargets: PostgresPreparedStatement {
        package static let sql = """
            WITH t AS (
              SELECT e.id, e.contact_id, e.exit_on_reply, e.has_prompt
              FROM (SELECT id FROM enrollments WHERE org_id = $1::text AND contact_id = $2::text AND state IN (\(EnrollmentState.sqlSources(of: .exited)))
                    UNION
                    SELECT id FROM enrollments WHERE org_id = $1::text AND thread_id = $3::text AND state IN (\(EnrollmentState.sqlSources(of: .exited)))
                    ORDER BY id) t
              CROSS JOIN LATERAL (
                SELECT id, contact_id, exit_on_reply, exit_condition_prompt IS NOT NULL AS has_prompt FROM enrollments
                WHERE org_id = $1::text AND id = t.id AND state IN (\(EnrollmentState.sqlSources(of: .exited))) AND inbox_id = $4::text
                FOR UPDATE) e
            ), stopped AS (
              UPDATE enrollments x SET
                state = CASE WHEN t.exit_on_reply THEN '\(EnrollmentState.exited.rawValue)' ELSE x.state END,
                exit_reason = CASE WHEN t.exit_on_reply THEN '\(ExitReason.replied.rawValue)' ELSE x.exit_reason END,
                exit_detail = CASE WHEN t.exit_on_reply THEN $6::text ELSE x.exit_detail END,
                next_due_at = CASE WHEN t.exit_on_reply THEN NULL ELSE x.next_due_at END,
                updated_at = CASE WHEN t.exit_on_reply THEN $7::timestamptz ELSE x.updated_at END,
                replied_after_step = CASE WHEN x.replied_at IS NULL THEN x.next_step - 1 ELSE x.replied_after_step END,
                replied_at = coalesce(x.replied_at, $7::timestamptz)
              FROM t WHERE $5::bool AND x.org_id = $1::text AND x.id = t.id AND x.state IN (\(EnrollmentState.sqlSources(of: .exited)))
              RETURNING x.id, t.exit_on_reply AS stopped
            )
            SELECT t.id, t.contact_id, t.exit_on_reply, t.has_prompt, coalesce(s.stopped, false) FROM t LEFT JOIN stopped s ON s.id = t.id ORDER BY t.id
            """
        package let org: String
        package let contactID: String?
        package let threadID: String
        package let inboxID: String
        package let stop: Bool
        package let detail: String
        package let now: Date

        package func makeBindings() throws -> PostgresBindings {
            var b = PostgresBindings(capacity: 7)
            b.append(org)
            b.append(contactID)
            b.append(threadID)
            b.append(inboxID)
            b.append(stop)
            b.append(detail)
            b.append(now)
            return b
        }
        package func decodeRow(_ row: PostgresRow) throws -> ReplyTarget {
            let (id, contactID, exitOnReply, hasPrompt, stopped) = try row.decode((String, String, Bool, Bool, Bool).self)
            return ReplyTarget(id: id, contactID: contactID, exitOnReply: exitOnReply, hasPrompt: hasPrompt, stopped: stopped)
        }

        package init(org: String, contactID: String?, threadID: String, inboxID: String, stop: Bool, detail: String, now: Date) {
            self.org = org
            self.contactID = contactID
            self.threadID = threadID
            self.inboxID = inboxID
            self.stop = stop
            self.detail = detail
            self.now = now
        }
    }

    /// Holds the sends of these contacts' running enrollments while a judgement is pending.
    package static func hold(org: String, contactIDs: [String], _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE enrollments SET held = true WHERE org_id = \(org) AND contact_id = ANY(\(contactIDs)) AND state IN (\(unescaped: EnrollmentState.sqlSources(of: .exited)))
            """, logger: logger)
    }

    package static func replyTargets(_ statement: ReplyTargets, _ conn: PostgresConnection, logger: Logger) async throws -> [ReplyTarget] {
        try await conn.execute(statement, logger: logger).collect()
    }
}
