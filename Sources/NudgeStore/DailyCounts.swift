import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Daily send limits: each inbox's (per inbox-local day) and each organization's quota (per UTC
/// day). A batch reserves the emails it means to send before sending them, in its own short
/// transaction, and gives back what it did not send when it records the batch. Batches running at
/// the same time (several dispatch loops or workers) therefore never send more than a limit
/// allows: each reservation adds to the counter under its row lock and is granted only what was
/// left before it. A worker that dies between the two keeps its reservation counted, so a crash
/// can only make a day send less than its limit, never more.
package struct DailyCounts: Sendable {
    package struct InboxKey: Hashable, Comparable, Sendable {
        package let org: String
        package let inbox: String
        package let day: String
        package static func < (a: Self, b: Self) -> Bool { (a.org, a.inbox, a.day) < (b.org, b.inbox, b.day) }
    }

    /// A token (the one whose send policy governs the enrollment) of an organization.
    package struct TokenKey: Hashable, Comparable, Sendable {
        package let org: String
        package let token: String
        package static func < (a: Self, b: Self) -> Bool { (a.org, a.token) < (b.org, b.token) }
    }

    /// Emails per inbox-day, per organization and per token (UTC day).
    package struct Tally: Sendable {
        package var inboxes: [InboxKey: Int] = [:]
        package var orgs: [String: Int] = [:]
        package var tokens: [TokenKey: Int] = [:]
    }

    /// What the batch added to the counters, and what of it the batch may still use.
    package let reserved: Tally
    private(set) var left: Tally
    package let utcDay: String

    package static func key(_ d: DueStep, now: Date) -> InboxKey {
        InboxKey(org: d.org, inbox: d.inboxID, day: ScheduleMath.localDay(now, d.inboxTimeZone))
    }

    /// Reserves one email for each of `emails` and keeps how many each inbox and organization
    /// was granted (the rest must wait for the next day). `defaultQuota` applies to organizations
    /// without their own.
    package static func reserve(_ emails: [DueStep], now: Date, defaultQuota: Int?, db: Database) async throws -> DailyCounts {
        let utcDay = ScheduleMath.localDay(now, .gmt)
        var wanted = Tally()
        var limits: [InboxKey: Int] = [:]
        var tokenCaps: [TokenKey: Int] = [:]
        for d in emails {
            let k = key(d, now: now)
            wanted.inboxes[k, default: 0] += 1
            if let limit = d.dailyLimit { limits[k] = limit }
            wanted.orgs[d.org, default: 0] += 1
            if let t = d.policyTokenID {
                let tk = TokenKey(org: d.org, token: t)
                wanted.tokens[tk, default: 0] += 1
                if let cap = d.policy?.daily_email_cap { tokenCaps[tk] = cap }
            }
        }
        guard !emails.isEmpty else { return DailyCounts(reserved: wanted, left: wanted, utcDay: utcDay) }
        // Sorted, so two batches lock shared counters in one order (no deadlock).
        let inboxKeys = wanted.inboxes.keys.sorted()
        let orgKeys = wanted.orgs.keys.sorted()
        let tokenKeys = wanted.tokens.keys.sorted()
        let granted = try await db.system { [wanted, limits, tokenCaps] conn in
            var granted = Tally()
            for try await (org, inbox, day, total) in try await conn.query(
                """
                INSERT INTO inbox_daily_sends (org_id, inbox_id, day, sent)
                SELECT * FROM unnest(\(inboxKeys.map(\.org))::text[], \(inboxKeys.map(\.inbox))::text[], \(inboxKeys.map(\.day))::date[],
                                     \(inboxKeys.map { wanted.inboxes[$0]! })::int[])
                ON CONFLICT (org_id, inbox_id, day) DO UPDATE SET sent = inbox_daily_sends.sent + EXCLUDED.sent
                RETURNING org_id, inbox_id, day::text, sent
                """, logger: db.logger
            ).decode((String, String, String, Int).self) {
                let k = InboxKey(org: org, inbox: inbox, day: day)
                granted.inboxes[k] = grant(wanted.inboxes[k] ?? 0, total: total, limit: limits[k])
            }
            for try await (org, total, quota) in try await conn.query(
                """
                INSERT INTO org_daily_sends (org_id, day, sent)
                SELECT u.org, \(utcDay)::date, u.n FROM unnest(\(orgKeys)::text[], \(orgKeys.map { wanted.orgs[$0]! })::int[]) AS u(org, n)
                ON CONFLICT (org_id, day) DO UPDATE SET sent = org_daily_sends.sent + EXCLUDED.sent
                RETURNING org_id, sent, (SELECT o.daily_send_quota FROM orgs o WHERE o.id = org_daily_sends.org_id)
                """, logger: db.logger
            ).decode((String, Int, Int?).self) {
                granted.orgs[org] = grant(wanted.orgs[org] ?? 0, total: total, limit: quota ?? defaultQuota)
            }
            // Counted whether or not the token has a cap, so that a cap set during the day counts the day's sends.
            if !tokenKeys.isEmpty {
                for try await (org, token, total) in try await conn.query(
                    """
                    INSERT INTO token_daily_sends (org_id, token_id, day, sent)
                    SELECT u.org, u.token, \(utcDay)::date, u.n
                    FROM unnest(\(tokenKeys.map(\.org))::text[], \(tokenKeys.map(\.token))::text[], \(tokenKeys.map { wanted.tokens[$0]! })::int[])
                      AS u(org, token, n)
                    ON CONFLICT (org_id, token_id, day) DO UPDATE SET sent = token_daily_sends.sent + EXCLUDED.sent
                    RETURNING org_id, token_id, sent
                    """, logger: db.logger
                ).decode((String, String, Int).self) {
                    let k = TokenKey(org: org, token: token)
                    granted.tokens[k] = grant(wanted.tokens[k] ?? 0, total: total, limit: tokenCaps[k])
                }
            }
            return granted
        }
        return DailyCounts(reserved: wanted, left: granted, utcDay: utcDay)
    }

    /// `total` is the counter after adding `wanted` under its row lock, so what was left before
    /// is `limit - (total - wanted)`.
    /// Emails an inbox has sent (or reserved) on its local `day` ("YYYY-MM-DD").
    package static func sent(org: String, inboxID: String, day: String, _ conn: PostgresConnection, logger: Logger) async throws -> Int {
        try await conn.query(
            """
            SELECT sent FROM inbox_daily_sends WHERE org_id = \(org) AND inbox_id = \(inboxID) AND day = \(day)::date
            """, logger: logger
        ).decode(Int.self).collect().first ?? 0
    }

    /// One more enrollment for a token on a UTC day, unless it already made `cap`: the UPDATE
    /// re-reads the row under its lock, so of two racing requests at the cap only one passes.
    package static func countEnrollment(org: String, tokenID: String, day: String, cap: Int, _ conn: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        try await conn.query(
            """
            INSERT INTO token_daily_enrollments (org_id, token_id, day, enrolled) SELECT \(org), \(tokenID), \(day)::date, 1 WHERE \(cap) > 0
            ON CONFLICT (org_id, token_id, day) DO UPDATE SET enrolled = token_daily_enrollments.enrolled + 1
            WHERE token_daily_enrollments.enrolled < \(cap)
            RETURNING enrolled
            """, logger: logger
        ).decode(Int.self).collect().first != nil
    }

    /// Gives back a counted enrollment that turned out to exist already.
    package static func uncountEnrollment(org: String, tokenID: String, day: String, _ conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            UPDATE token_daily_enrollments SET enrolled = greatest(0, enrolled - 1)
            WHERE org_id = \(org) AND token_id = \(tokenID) AND day = \(day)::date
            """, logger: logger)
    }

    package static func grant(_ wanted: Int, total: Int, limit: Int?) -> Int {
        guard let limit else { return wanted }
        return min(wanted, max(0, limit - (total - wanted)))
    }

    /// Takes one email's share for `d`, if both its inbox and its organization have one left.
    /// Returns which limit stopped it otherwise.
    package mutating func take(_ d: DueStep, now: Date) -> Limit? {
        let k = Self.key(d, now: now)
        let tk = d.policyTokenID.map { TokenKey(org: d.org, token: $0) }
        guard (left.inboxes[k] ?? 0) > 0 else { return .inbox }
        guard (left.orgs[d.org] ?? 0) > 0 else { return .org }
        if let tk { guard (left.tokens[tk] ?? 0) > 0 else { return .token } }
        left.inboxes[k]! -= 1
        left.orgs[d.org]! -= 1
        if let tk { left.tokens[tk]! -= 1 }
        return nil
    }

    /// `token`: the daily email cap of the send policy of the token that made the enrollment.
    package enum Limit { case inbox, org, token }

    /// Gives back the part of the reservation that was not sent (refused by a limit, failed, or
    /// not started), inside the batch's recording transaction.
    package func release(sent: [DueStep], now: Date, _ conn: PostgresConnection, logger: Logger) async throws {
        var inboxBack = reserved.inboxes
        var orgBack = reserved.orgs
        var tokenBack = reserved.tokens
        for d in sent {
            inboxBack[Self.key(d, now: now), default: 0] -= 1
            orgBack[d.org, default: 0] -= 1
            if let t = d.policyTokenID { tokenBack[TokenKey(org: d.org, token: t), default: 0] -= 1 }
        }
        let inboxKeys = inboxBack.filter { $0.value > 0 }.keys.sorted()
        let orgKeys = orgBack.filter { $0.value > 0 }.keys.sorted()
        if !inboxKeys.isEmpty {
            try await conn.query(
                """
                UPDATE inbox_daily_sends s SET sent = greatest(0, s.sent - u.n)
                FROM unnest(\(inboxKeys.map(\.org))::text[], \(inboxKeys.map(\.inbox))::text[], \(inboxKeys.map(\.day))::date[],
                            \(inboxKeys.map { inboxBack[$0]! })::int[]) AS u(org, inbox, day, n)
                WHERE s.org_id = u.org AND s.inbox_id = u.inbox AND s.day = u.day
                """, logger: logger)
        }
        if !orgKeys.isEmpty {
            try await conn.query(
                """
                UPDATE org_daily_sends s SET sent = greatest(0, s.sent - u.n)
                FROM unnest(\(orgKeys)::text[], \(orgKeys.map { orgBack[$0]! })::int[]) AS u(org, n)
                WHERE s.org_id = u.org AND s.day = \(utcDay)::date
                """, logger: logger)
        }
        // Last, as `reserve` locks them: the same order in both, so no deadlock.
        let tokenKeys = tokenBack.filter { $0.value > 0 }.keys.sorted()
        if !tokenKeys.isEmpty {
            try await conn.query(
                """
                UPDATE token_daily_sends s SET sent = greatest(0, s.sent - u.n)
                FROM unnest(\(tokenKeys.map(\.org))::text[], \(tokenKeys.map(\.token))::text[], \(tokenKeys.map { tokenBack[$0]! })::int[])
                  AS u(org, token, n)
                WHERE s.org_id = u.org AND s.token_id = u.token AND s.day = \(utcDay)::date
                """, logger: logger)
        }
    }
}
