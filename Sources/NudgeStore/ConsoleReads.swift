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

    /// How many enrollments of a sequence are in each state (one grouped count on its index).
    public func enrollmentStates(org: String, sequence: String) async throws -> [(state: String, count: Int)] {
        try await db.tenant(org) { conn in
            var out: [(state: String, count: Int)] = []
            for try await (state, n) in try await conn.query(
                "SELECT state, count(*)::int FROM enrollments WHERE org_id = \(org) AND sequence_id = \(sequence) GROUP BY state ORDER BY state",
                logger: db.logger
            ).decode((String, Int).self) {
                out.append((state, n))
            }
            return out
        }
    }

    public struct TimelineEntry: Sendable {
        public let type: String
        public let data: JSONValue
        public let at: Date
    }

    /// What happened to an enrollment, oldest first: its events (sent, held, exited, ...) and the
    /// judgements of its replies (verdict and reason). At most `limit` of each.
    public func timeline(org: String, enrollment: String, limit: Int) async throws -> [TimelineEntry] {
        try await db.tenant(org) { conn in
            var out: [TimelineEntry] = []
            for try await (type, data, at) in try await conn.query(
                """
                SELECT type, data::text, created_at FROM events
                WHERE org_id = \(org) AND data->>'enrollment_id' = \(enrollment) AND type = ANY(\(Self.enrollmentTypes))
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
            return out.sorted { $0.at < $1.at }
        }
    }

    /// The events that speak of one enrollment (the sequences:read ones and message.sent).
    static let enrollmentTypes: [String] = [
        "enrollment.created", "enrollment.cancelled", "enrollment.paused", "enrollment.resumed", "enrollment.held", "enrollment.completed",
        "enrollment.exited", "enrollment.failed", "reminder.due", "judgement.failed", "message.sent",
    ]
}
