import Foundation
import NudgeCore
import NudgeStore
import PostgresNIO
import Testing

/// The enrollment state machine: the table itself, pair by pair, and every store operation that
/// changes a state, tried from every state against the real database.
@Suite struct EnrollmentTransitionTests {
    /// Written out here on purpose: a change to `EnrollmentState.transitions` must change this too.
    static let allowed: Set<String> = [
        "active>paused", "active>completed", "active>exited", "active>cancelled", "active>failed",
        "paused>active", "paused>exited", "paused>cancelled", "paused>failed",
    ]

    @Test func everyPairIsAllowedOrRefused() {
        var checked = 0
        for from in EnrollmentState.allCases {
            for to in EnrollmentState.allCases {
                #expect(from.canMove(to: to) == Self.allowed.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) -> \(to)")
                #expect(EnrollmentState.sources(of: to).contains(from) == from.canMove(to: to))
                checked += 1
            }
        }
        #expect(checked == 36)
        #expect(EnrollmentState.sqlSources(of: .exited) == "'active', 'paused'")
        #expect(EnrollmentState.sqlSources(of: .completed) == "'active'")
        #expect(EnrollmentState.sqlSources(of: .active) == "'paused'")
    }

    @Test func unknownStoredValuesAreErrorsNotDefaults() throws {
        #expect(throws: UnknownStoredValue.self) { try EnrollmentState.stored("stopped", column: "enrollments.state") }
        #expect(throws: UnknownStoredValue.self) { try DeliveryStatus.stored("skipped", column: "deliveries.status") }
        #expect(try EnrollmentState.stored("paused", column: "enrollments.state") == .paused)
    }

    /// Each operation from each of the six states: the row moves exactly when the table allows it.
    @Test func everyStoreOperationFollowsTheTable() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let email = Fixture.address()
            let enrolled = try await h.enrollAdHoc(inbox: inbox, email: email, steps: #"[{"delay_days": 1, "subject": "s", "body": "b"}]"#)
            #expect(enrolled.status == 201)
            let id = enrolled.id
            let org = h.org
            let db = h.services.db
            let tokenID = try await h.tokenID(h.admin)

            func put(_ state: EnrollmentState) async throws {
                try await db.system { conn in
                    try await conn.query(
                        "UPDATE enrollments SET state = \(state.rawValue), next_due_at = now() WHERE org_id = \(org) AND id = \(id)",
                        logger: db.logger)
                }
            }
            func current() async throws -> EnrollmentState {
                try await db.system { conn in
                    let raw = try await conn.query("SELECT state FROM enrollments WHERE org_id = \(org) AND id = \(id)", logger: db.logger)
                        .decode(String.self).collect().first!
                    return try EnrollmentState.stored(raw, column: "enrollments.state")
                }
            }

            var tried = 0
            for from in EnrollmentState.allCases {
                // Token actions: allowed moves happen, the current state is a no-op, the rest is a 409.
                for action in [EnrollmentStore.Action.cancel, .pause, .resume] {
                    try await put(from)
                    let target = action.target
                    if from == target {
                        _ = try await h.services.enrollments.act(org: org, id: id, action: action, tokenID: tokenID, now: Date())
                        #expect(try await current() == from)
                    } else if from.canMove(to: target) {
                        _ = try await h.services.enrollments.act(org: org, id: id, action: action, tokenID: tokenID, now: Date())
                        #expect(try await current() == target, "\(action) from \(from)")
                    } else {
                        await #expect(throws: NudgeError.self, "\(action) from \(from)") {
                            try await h.services.enrollments.act(org: org, id: id, action: action, tokenID: tokenID, now: Date())
                        }
                        #expect(try await current() == from)
                    }
                    tried += 1
                }
                // Ends: replies, suppressions, cancellations by deletion, undeliverable steps.
                for target in [EnrollmentState.exited, .cancelled, .failed] {
                    try await put(from)
                    let ended = try await db.tenant(org) { conn in
                        try await EnrollmentStore.finish(
                            org: org, enrollmentIDs: [id], state: target, reason: target == .exited ? .replied : nil,
                            detail: "test", now: Date(), conn, logger: db.logger)
                    }
                    #expect(ended == (from.canMove(to: target) ? [id] : []), "\(target) from \(from)")
                    #expect(try await current() == (from.canMove(to: target) ? target : from))
                    tried += 1
                }
                // A pause for review (an LLM step that cannot be written, a judgement that fails).
                try await put(from)
                let paused = try await db.tenant(org) { conn in
                    try await EnrollmentStore.pauseForReview(org: org, id: id, detail: "needs_review: test", now: Date(), conn, logger: db.logger)
                }
                #expect(paused == (from == .active), "review pause from \(from)")
                #expect(try await current() == (from == .active ? .paused : from))
                tried += 1
            }
            #expect(tried == 6 * 7)
        }
    }

    /// A row whose step index points past its steps fails that enrollment alone; the rest of the
    /// batch is sent (it used to stop the dispatcher).
    @Test func aDamagedStepIndexFailsOnlyItsEnrollment() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let steps = #"[{"delay_days": 1, "subject": "s", "body": "b"}]"#
            let damaged = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address(), steps: steps).id
            let healthy = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address(), steps: steps).id
            let db = h.services.db
            let org = h.org
            try await db.system { conn in
                try await conn.query("UPDATE enrollments SET next_step = 7 WHERE org_id = \(org) AND id = \(damaged)", logger: db.logger)
            }
            _ = try await h.advance(seconds: 86_400 + 60)
            let a = try await h.call(.get, "/v1/sequences/enrollments/\(damaged)")
            #expect(a["state"]?.string == "failed")
            #expect(a["exit_detail"]?.string?.contains("step 7 does not exist") == true)
            let b = try await h.call(.get, "/v1/sequences/enrollments/\(healthy)")
            #expect(b["state"]?.string == "completed")
        }
    }

    /// The enums the code stores are exactly the values the schema's CHECK constraints allow.
    @Test func storedEnumsMatchTheSchema() async throws {
        try await Harness.run { h in
            let db = h.services.db
            func allowed(_ constraint: String) async throws -> Set<String> {
                let def = try await db.system { conn in
                    try await conn.query("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = \(constraint)", logger: db.logger)
                        .decode(String.self).collect().first ?? ""
                }
                return Set(def.matches(of: try Regex("'([a-z_]+)'")).compactMap { $0.output[1].substring.map(String.init) })
            }
            let states = try await allowed("enrollments_state_check")
            let judgements = try await allowed("judgements_state_check")
            let statuses = try await allowed("deliveries_status_check")
            let kinds = try await allowed("deliveries_kind_check")
            let webhookStates = try await allowed("webhook_deliveries_state_check")
            #expect(states == Set(EnrollmentState.allCases.map(\.rawValue)))
            #expect(judgements == Set(JudgementState.allCases.map(\.rawValue)))
            #expect(statuses == Set(DeliveryStatus.allCases.map(\.rawValue)))
            #expect(kinds == Set(DeliveryKind.allCases.map(\.rawValue)))
            #expect(webhookStates == Set(WebhookDeliveryState.allCases.map(\.rawValue)))
        }
    }
}
