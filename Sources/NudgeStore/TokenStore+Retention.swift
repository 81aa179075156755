import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// How long an organization keeps what grows without bound (migration 0019 has the defaults).
public struct RetentionPolicy: Sendable, Equatable {
    public var eventsDays: Int
    public var bodiesDays: Int
    public var llmCallsDays: Int

    public static let defaults = RetentionPolicy(eventsDays: 30, bodiesDays: 365, llmCallsDays: 90)
    public static let allowedDays = 1...36_500

    public init(eventsDays: Int, bodiesDays: Int, llmCallsDays: Int) {
        self.eventsDays = eventsDays
        self.bodiesDays = bodiesDays
        self.llmCallsDays = llmCallsDays
    }
}

extension TokenStore {
    /// Every organization's retention policy, for the retention worker.
    package func retentionPolicies() async throws -> [(org: String, policy: RetentionPolicy)] {
        try await db.system { [logger] conn in
            var out: [(String, RetentionPolicy)] = []
            for try await (org, events, bodies, llm) in try await conn.query(
                "SELECT id, events_retention_days, bodies_retention_days, llm_calls_retention_days FROM orgs ORDER BY id", logger: logger
            ).decode((String, Int, Int, Int).self) {
                out.append((org, RetentionPolicy(eventsDays: events, bodiesDays: bodies, llmCallsDays: llm)))
            }
            return out
        }
    }

    /// Sets an organization's policy (`nudge org retention`); false when it does not exist.
    public func setRetention(org: String, _ policy: RetentionPolicy) async throws -> Bool {
        for days in [policy.eventsDays, policy.bodiesDays, policy.llmCallsDays] where !RetentionPolicy.allowedDays.contains(days) {
            throw NudgeError.validation("days", "retention is 1 to 36500 days, not \(days)")
        }
        return try await db.system { [logger] conn in
            !(try await conn.query(
                """
                UPDATE orgs SET events_retention_days = \(policy.eventsDays), bodies_retention_days = \(policy.bodiesDays),
                  llm_calls_retention_days = \(policy.llmCallsDays)
                WHERE id = \(org) RETURNING id
                """, logger: logger
            ).collect().isEmpty)
        }
    }

    /// Records that events created before `before` may be gone (raised only).
    package static func markEventsPurged(org: String, before: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE orgs SET events_purged_before = GREATEST(coalesce(events_purged_before, \(before)), \(before)) WHERE id = \(org)
            """, logger: logger)
    }
}
