import Foundation
import Hummingbird
import NudgeCore
import NudgeStore

/// `GET /v1/sequences/{id}/stats`: what a sequence's enrollments did, in all or since a time.
package struct SequenceStatsAPI {
    package let sequences: SequenceStore
    package let stats: SequenceStatsStore

    package struct StepStats: Encodable {
        package let step_index: Int
        package let sent: Int
        package let bounced: Int
        package let replied: Int
        package let reply_rate: Double?

        enum CodingKeys: CodingKey { case step_index, sent, bounced, replied, reply_rate }
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(step_index, forKey: .step_index)
            try c.encode(sent, forKey: .sent)
            try c.encode(bounced, forKey: .bounced)
            try c.encode(replied, forKey: .replied)
            try c.encode(reply_rate, forKey: .reply_rate)  // null, not absent, when nothing was sent
        }
    }

    package struct Stats: Encodable {
        package let sequence_id: String
        package let since: Date?
        package let enrolled: Int
        package let active: Int
        package let paused: Int
        package let completed: Int
        package let exited: Int
        package let cancelled: Int
        package let failed: Int
        package let sent: Int
        package let replied: Int
        package let bounced: Int
        package let unsubscribed: Int
        package let complained: Int
        package let exited_by_reason: [String: Int]
        package let reply_rate: Double?
        package let median_minutes_to_first_reply: Int?
        package let steps: [StepStats]

        /// The optional figures are null, not absent, when there is nothing to divide or rank.
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(sequence_id, forKey: .sequence_id)
            try c.encode(since, forKey: .since)
            for (key, value) in [
                (CodingKeys.enrolled, enrolled), (.active, active), (.paused, paused), (.completed, completed), (.exited, exited),
                (.cancelled, cancelled), (.failed, failed), (.sent, sent), (.replied, replied), (.bounced, bounced),
                (.unsubscribed, unsubscribed), (.complained, complained),
            ] { try c.encode(value, forKey: key) }
            try c.encode(exited_by_reason, forKey: .exited_by_reason)
            try c.encode(reply_rate, forKey: .reply_rate)
            try c.encode(median_minutes_to_first_reply, forKey: .median_minutes_to_first_reply)
            try c.encode(steps, forKey: .steps)
        }

        enum CodingKeys: CodingKey {
            case sequence_id, since, enrolled, active, paused, completed, exited, cancelled, failed, sent, replied, bounced, unsubscribed
            case complained, exited_by_reason, reply_rate, median_minutes_to_first_reply, steps
        }
    }

    package init(sequences: SequenceStore, stats: SequenceStatsStore) {
        self.sequences = sequences
        self.stats = stats
    }

    package func register(_ r: ScopedRouter) {
        r.get("/v1/sequences/:id/stats", .sequencesRead) { req, ctx in
            let id = try ctx.id("id", .seq, what: "sequence")
            let since = try req.query("since").map { raw in
                guard let d = RFC3339.parse(raw) else {
                    throw NudgeError.validation("since", "since must be an RFC 3339 timestamp such as 2026-12-01T09:00:00Z.")
                }
                return d
            }
            guard let s = try await sequences.get(org: ctx.org, id: id) else { throw NudgeError.notFound("sequence") }
            let c = try await stats.counts(org: ctx.org, sequenceID: id, since: since)
            return try JSONCoding.response(Self.stats(s.id, since: since, steps: s.emails.count, c))
        }
    }

    static func rate(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : (Double(part) / Double(whole) * 10_000).rounded() / 10_000 }

    /// Every step of the current version, and any other step an older version's enrollments reached.
    package static func stats(_ id: String, since: Date?, steps: Int, _ c: SequenceStatsStore.Counts) -> Stats {
        let seen = Set(["sent", "bounced", "step_replied"].flatMap { c.values[$0]?.keys.map { $0 } ?? [] }.filter { $0 >= 0 })
        let indexes = Set(0..<steps).union(seen).sorted()
        let stepStats = indexes.map { i in
            StepStats(
                step_index: i, sent: c.get("sent", i), bounced: c.get("bounced", i), replied: c.get("step_replied", i),
                reply_rate: rate(c.get("step_replied", i), c.get("sent", i)))
        }
        var reasons: [String: Int] = [:]
        for r in ExitReason.allCases { reasons[r.rawValue] = c.get("exit:\(r.rawValue)") }
        return Stats(
            sequence_id: id, since: since, enrolled: c.get("enrolled"), active: c.get("state:active"), paused: c.get("state:paused"),
            completed: c.get("state:completed"), exited: c.get("state:exited"), cancelled: c.get("state:cancelled"), failed: c.get("state:failed"),
            sent: c.get("sent"), replied: c.get("replied"), bounced: c.get("exit:bounced"), unsubscribed: c.get("exit:unsubscribed"),
            complained: c.get("exit:complained"), exited_by_reason: reasons, reply_rate: rate(c.get("replied"), c.get("enrolled")),
            median_minutes_to_first_reply: c.medianMinutes, steps: stepStats)
    }
}
