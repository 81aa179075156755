import Foundation
import NudgeCore
import PostgresNIO

/// Reads of the operator console that no API endpoint answers: today's counts and one
/// enrollment's timeline. Read-only, in the organization's tenant transaction (row security).
public struct ConsoleReads: Sendable {
    package let db: Database

    public init(db: Database) { self.db = db }

    /// Events of the given types since `since`, counted by type, and the endpoints failing now.
    public func counts(org: String, since: Date, types: [EventType]) async throws -> (events: [String: Int], failingWebhooks: Int) {
        try await db.tenant(org) { conn in
            var events: [String: Int] = [:]
            for try await (type, n) in try await conn.query(
                """
                SELECT type, count(*)::int FROM events
                WHERE org_id = \(org) AND created_at >= \(since) AND type = ANY(\(types.map(\.rawValue))) GROUP BY type
                """, logger: db.logger
            ).decode((String, Int).self) {
                events[type] = n
            }
            let failing =
                try await conn.query(
                    "SELECT count(*)::int FROM webhooks WHERE org_id = \(org) AND (failing_since IS NOT NULL OR disabled)", logger: db.logger
                ).decode(Int.self).first { _ in true } ?? 0
            return (events, failing)
        }
    }

    public struct TimelineEntry: Sendable {
        public let type: String
        public let data: JSONValue
        public let at: Date
    }

    /// What happened to an enrollment, oldest first: its start, each email sent (its deliveries),
    /// its rarer events (paused, resumed, held, reminders, failed judgements: a partial index of
    /// migration 0024 keeps only these), the judgements of its replies (verdict and reason), and
    /// its end with the reason. Frequent events (sends, exits) are not indexed by enrollment: the
    /// rows they came from say the same. At most `limit` of each kind.
    public func timeline(org: String, enrollment: String, limit: Int) async throws -> [TimelineEntry] {
        try await db.tenant(org) { conn in
            var out: [TimelineEntry] = []
            for try await (state, reason, detail, created, updated) in try await conn.query(
                "SELECT state, exit_reason, exit_detail, created_at, updated_at FROM enrollments WHERE org_id = \(org) AND id = \(enrollment)",
                logger: db.logger
            ).decode((String, String?, String?, Date, Date).self) {
                out.append(TimelineEntry(type: "enrollment.created", data: .object([:]), at: created))
                if !["active", "paused"].contains(state) {
                    let end: [String: JSONValue] = [
                        "exit_reason": reason.map { .string($0) } ?? .null, "exit_detail": detail.map { .string($0) } ?? .null,
                    ]
                    out.append(TimelineEntry(type: "enrollment." + state, data: .object(end), at: updated))
                }
            }
            for try await (step, rfc, status, sent, subject) in try await conn.query(
                """
                SELECT step_index, rfc822_message_id, status, sent_at, rendered_subject FROM deliveries
                WHERE org_id = \(org) AND enrollment_id = \(enrollment) AND kind = 'email' AND status IN ('sent', 'bounced') AND sent_at IS NOT NULL
                ORDER BY sent_at LIMIT \(limit)
                """, logger: db.logger
            ).decode((Int, String?, String, Date, String?).self) {
                let data: [String: JSONValue] = [
                    "step_index": .number(Double(step)), "rfc822_message_id": rfc.map { .string($0) } ?? .null,
                    "subject": subject.map { .string($0) } ?? .null, "bounced": .bool(status == "bounced"),
                ]
                out.append(TimelineEntry(type: "message.sent", data: .object(data), at: sent))
            }
            for try await (type, data, at) in try await conn.query(
                """
                SELECT type, data::text, created_at FROM events
                WHERE org_id = \(org) AND type IN (\(unescaped: Self.indexedTypes)) AND data ? 'enrollment_id' AND data->>'enrollment_id' = \(enrollment)
                ORDER BY created_at, seq LIMIT \(limit)
                """, logger: db.logger
            ).decode((String, String, Date).self) {
                out.append(TimelineEntry(type: type, data: JSONValue.parse(data) ?? .null, at: at))
            }
            for try await (state, verdict, reason, message, at) in try await conn.query(
                """
                SELECT state, verdict, reason, message_id, created_at FROM judgements
                WHERE org_id = \(org) AND enrollment_id = \(enrollment) ORDER BY created_at LIMIT \(limit)
                """, logger: db.logger
            ).decode((String, Bool?, String?, String, Date).self) {
                out.append(
                    TimelineEntry(
                        type: "judgement." + state,
                        data: .object([
                            "message_id": .string(message), "verdict": verdict.map { .bool($0) } ?? .null,
                            "reason": reason.map { .string($0) } ?? .null,
                        ]), at: at))
            }
            // At the same instant, the start first and the end last (the manual clock, or one
            // transaction that sent and ended).
            func rank(_ e: TimelineEntry) -> Int {
                if e.type == "enrollment.created" { return 0 }
                return ["enrollment.completed", "enrollment.exited", "enrollment.cancelled", "enrollment.failed"].contains(e.type) ? 2 : 1
            }
            return out.enumerated().sorted { ($0.element.at, rank($0.element), $0.offset) < ($1.element.at, rank($1.element), $1.offset) }
                .map(\.element)
        }
    }

    /// The enrollment events the partial index events_by_enrollment keeps (migration 0024, the
    /// same list): the query names them as literals so that the planner can use it.
    static let indexedTypes = "'enrollment.paused', 'enrollment.resumed', 'enrollment.held', 'reminder.due', 'judgement.failed'"

}
