import Foundation
import Logging
import Nudge
import NudgeCore
import NudgeStore
import NudgeTestSupport
import PostgresNIO
import Testing

/// `GET /v1/sequences/{id}/stats`: exact against a brute-force count of the rows after a
/// randomized run, all-time (counters and pending deltas) and windowed; its plan reads counters only.
@Suite struct SequenceStatsTests {
    struct Row {
        let state: String
        let exitReason: String?
        let createdAt: Date
        let repliedAt: Date?
        let repliedAfterStep: Int?
    }

    /// The answer computed from the rows themselves.
    static func bruteForce(_ h: Harness, sequence: String, since: Date?) async throws -> JSONValue {
        let logger = Logger(label: "test")
        let (rows, sends) = try await h.services.db.system { conn -> ([Row], [(Int, String)]) in
            var rows: [Row] = []
            for try await (state, reason, created, replied, after) in try await conn.query(
                "SELECT state, exit_reason, created_at, replied_at, replied_after_step FROM enrollments WHERE org_id = \(h.org) AND sequence_id = \(sequence)",
                logger: logger
            ).decode((String, String?, Date, Date?, Int?).self) {
                if let since, created < since { continue }
                rows.append(Row(state: state, exitReason: reason, createdAt: created, repliedAt: replied, repliedAfterStep: after))
            }
            var sends: [(Int, String)] = []
            for try await (step, status, created) in try await conn.query(
                """
                SELECT d.step_index, d.status, e.created_at FROM deliveries d JOIN enrollments e ON e.org_id = d.org_id AND e.id = d.enrollment_id
                WHERE e.org_id = \(h.org) AND e.sequence_id = \(sequence) AND d.kind = 'email'
                """, logger: logger
            ).decode((Int, String, Date).self) where since == nil || created >= since! {
                sends.append((step, status))
            }
            return (rows, sends)
        }
        func count(_ f: (Row) -> Bool) -> Int { rows.filter(f).count }
        let replied = rows.filter { $0.repliedAt != nil }
        let minutes = replied.map { Int((($0.repliedAt!.timeIntervalSince($0.createdAt)) / 60).rounded(.down)) }.sorted()
        let sent = sends.filter { $0.1 == "sent" || $0.1 == "bounced" }
        var reasons: [String: JSONValue] = [:]
        for r in ExitReason.allCases { reasons[r.rawValue] = .number(Double(count { $0.exitReason == r.rawValue })) }
        let steps = Set(sends.map(\.0) + replied.compactMap(\.repliedAfterStep).filter { $0 >= 0 } + [0, 1, 2]).sorted()
        return .object([
            "enrolled": .number(Double(rows.count)),
            "active": .number(Double(count { $0.state == "active" })), "paused": .number(Double(count { $0.state == "paused" })),
            "completed": .number(Double(count { $0.state == "completed" })), "exited": .number(Double(count { $0.state == "exited" })),
            "cancelled": .number(Double(count { $0.state == "cancelled" })),
            "sent": .number(Double(sent.count)), "replied": .number(Double(replied.count)),
            "bounced": .number(Double(count { $0.exitReason == "bounced" })),
            "unsubscribed": .number(Double(count { $0.exitReason == "unsubscribed" })),
            "complained": .number(Double(count { $0.exitReason == "complained" })), "exited_by_reason": .object(reasons),
            // percentile_disc(0.5): the first value with at least half of them at or below it.
            "median_minutes_to_first_reply": minutes.isEmpty ? .null : .number(Double(minutes[(minutes.count + 1) / 2 - 1])),
            "steps": .array(
                steps.map { i in
                    .object([
                        "step_index": .number(Double(i)), "sent": .number(Double(sent.filter { $0.0 == i }.count)),
                        "bounced": .number(Double(sends.filter { $0.0 == i && $0.1 == "bounced" }.count)),
                        "replied": .number(Double(replied.filter { $0.repliedAfterStep == i }.count)),
                    ])
                }),
        ])
    }

    static func expectSame(_ got: Reply, _ want: JSONValue, _ label: String) {
        #expect(got.status == 200, "\(label): \(got.body)")
        for key in [
            "enrolled", "active", "paused", "completed", "exited", "cancelled", "sent", "replied", "bounced", "unsubscribed", "complained",
            "median_minutes_to_first_reply", "exited_by_reason",
        ] {
            #expect(got[key] == want[key], "\(label) \(key): got \(got[key].map { "\($0)" } ?? "nil"), counted \(want[key].map { "\($0)" } ?? "nil")")
        }
        guard case .array(let gotSteps)? = got["steps"], case .array(let wantSteps)? = want["steps"] else {
            Issue.record("\(label): no steps")
            return
        }
        #expect(gotSteps.count == wantSteps.count, "\(label)")
        for (g, w) in zip(gotSteps, wantSteps) {
            for key in ["step_index", "sent", "bounced", "replied"] {
                #expect(g[key] == w[key], "\(label) step \(w["step_index"]?.number ?? -1) \(key)")
            }
        }
        if let enrolled = want["enrolled"]?.number, enrolled > 0, let replied = want["replied"]?.number {
            #expect(abs((got["reply_rate"]?.number ?? -1) - replied / enrolled) < 0.0001, "\(label) reply_rate")
        }
    }

    static func sequence(_ inbox: String, exitOnReply: Bool) -> String {
        let steps = [Fixture.step(days: 1, subject: "One"), Fixture.step(days: 1, subject: "Two"), Fixture.step(days: 1, subject: "Three")]
        return
            #"{"name": "Stats \#(exitOnReply)", "sender_inbox_id": "\#(inbox)", "exit_on_reply": \#(exitOnReply), "emails": [\#(steps.joined(separator: ", "))]}"#
    }

    @Test func statsMatchABruteForceCountAfterARandomizedRun() async throws {
        try await Harness.withSMTP { h, _ in
            var rng = SystemRandomNumberGenerator()
            let inbox = try await h.inbox()
            let seqs = [
                try await h.call(.post, "/v1/sequences/", Self.sequence(inbox, exitOnReply: true)).id,
                try await h.call(.post, "/v1/sequences/", Self.sequence(inbox, exitOnReply: false)).id,
            ]
            var contacts: [(id: String, address: String)] = []
            var enrollments: [String] = []
            var since = h.clock.now()
            for batch in 0..<2 {
                if batch == 1 {
                    _ = try await h.advance(seconds: 3_600)
                    since = h.clock.now()
                }
                for _ in 0..<30 {
                    let address = "p\(Int.random(in: 0..<1_000_000_000, using: &rng))@example.com"
                    let c = try await h.call(.post, "/v1/contacts/", #"{"inbox_id": "\#(inbox)", "emails": [{"address": "\#(address)"}]}"#).id
                    contacts.append((c, address))
                    for s in seqs {
                        let e = try await h.call(
                            .post, "/v1/sequences/enrollments/",
                            #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(s)", "recipient": {"contact_id": "\#(c)"}}"#)
                        #expect(e.status == 201, "\(e.body)")
                        enrollments.append(e.id)
                    }
                }
            }
            for day in 0..<4 {
                _ = try await h.advance(seconds: Double.random(in: 0.3...1.2, using: &rng) * 86_400)
                for (i, c) in contacts.enumerated() where Int.random(in: 0..<6, using: &rng) == 0 {
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0, 1:
                        let raw =
                            "From: <\(c.address)>\r\nTo: sales@acme.test\r\nSubject: Re: One\r\nMessage-ID: <r-\(UUID().uuidString)@example.com>\r\n\r\nThanks, let's talk next week.\r\n"
                        _ = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(raw.utf8))
                    case 2:
                        let reason = ["unsubscribed", "bounced", "complained"].randomElement(using: &rng)!
                        _ = try await h.call(.post, "/v1/suppressions/", #"{"address": "\#(c.address)", "reason": "\#(reason)"}"#)
                    default:
                        let e = enrollments[(i * 2 + day) % enrollments.count]
                        _ = try await h.call(
                            .patch, "/v1/sequences/enrollments/\(e)", #"{"action": "\#(["pause", "cancel", "resume"].randomElement(using: &rng)!)"}"#)
                    }
                }
                // Half way, move the deltas into the counters: the answer sums both.
                if day == 1 { try await SequenceStatsStore(db: h.services.db).compact() }
            }
            for s in seqs {
                Self.expectSame(
                    try await h.call(.get, "/v1/sequences/\(s)/stats/"), try await Self.bruteForce(h, sequence: s, since: nil), "\(s) all")
                let window = try await h.call(.get, "/v1/sequences/\(s)/stats/?since=\(RFC3339.string(since))")
                Self.expectSame(window, try await Self.bruteForce(h, sequence: s, since: since), "\(s) since")
                #expect(window["since"]?.string == RFC3339.string(since))
            }
            // Something of each kind happened (the run is random, the test is not vacuous).
            let all = try await h.call(.get, "/v1/sequences/\(seqs[0])/stats/")
            #expect((all["sent"]?.number ?? 0) > 0 && (all["replied"]?.number ?? 0) > 0 && (all["exited"]?.number ?? 0) > 0, "\(all.body)")
            try await SequenceStatsStore(db: h.services.db).compact()
            try await SequenceStatsStore(db: h.services.db).vacuum()
            Self.expectSame(
                try await h.call(.get, "/v1/sequences/\(seqs[1])/stats/"), try await Self.bruteForce(h, sequence: seqs[1], since: nil), "compacted")
        }
    }

    @Test func badSinceOtherOrganizationsAndScopes() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", Self.sequence(inbox, exitOnReply: true)).id
            let bad = try await h.call(.get, "/v1/sequences/\(seq)/stats/?since=yesterday")
            #expect(bad.status == 422 && bad.errorParam == "since", "\(bad.body)")
            let empty = try await h.call(.get, "/v1/sequences/\(seq)/stats/")
            #expect(empty["enrolled"]?.number == 0 && empty["reply_rate"] == .null && empty["median_minutes_to_first_reply"] == .null)
            if case .array(let steps)? = empty["steps"] { #expect(steps.count == 3) } else { Issue.record("no steps: \(empty.body)") }
            let (_, otherAdmin) = try await h.otherOrg()
            #expect(try await h.call(.get, "/v1/sequences/\(seq)/stats/", token: otherAdmin).status == 404)
            #expect(try await h.call(.get, "/v1/sequences/seq_00000000000000000000000000/stats/").status == 404)
            let reader = try await h.token(["sequences:read"])
            #expect(try await h.call(.get, "/v1/sequences/\(seq)/stats/", token: reader).status == 200)
            let other = try await h.token(["contacts:read"])
            #expect(try await h.call(.get, "/v1/sequences/\(seq)/stats/", token: other).status == 403)
        }
    }

    /// The all-time answer reads counter rows by index, never the enrollments: its cost does not
    /// grow with them (`ops/bench stats` times it with 1,000,000 enrollments; docs/sequence-stats.md).
    @Test func theAllTimePlanReadsCountersOnly() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", Self.sequence(inbox, exitOnReply: true)).id
            let plan = try await h.services.db.system(rollback: true) { conn in
                try await conn.query(
                    "SELECT set_config('role', 'nudge_api', true), set_config('nudge.org_id', \(h.org), true)", logger: Logger(label: "t"))
                var text = ""
                for sql in [SequenceStatsStore.allTime, SequenceStatsStore.allTimeMedian] {
                    var b = PostgresBindings()
                    b.append(h.org)
                    b.append(seq)
                    for try await line in try await conn.query(PostgresQuery(unsafeSQL: "EXPLAIN " + sql, binds: b), logger: Logger(label: "t"))
                        .decode(String.self)
                    { text += line + "\n" }
                }
                return text
            }
            // Enrollments only by primary key, for a pending delivery change's sequence.
            #expect(!plan.contains("deliveries") && !plan.contains("Scan on enrollments "), "\(plan)")
            #expect(plan.split(separator: "\n").allSatisfy { !$0.contains("using enrollments_") || $0.contains("using enrollments_pkey") }, "\(plan)")
            #expect(!plan.contains("Seq Scan on sequence_stats"), "\(plan)")
        }
    }
}
