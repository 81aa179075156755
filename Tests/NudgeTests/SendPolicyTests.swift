import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import PostgresNIO
import Testing

/// Send policies on tokens (README, "Send policies"): set by an admin, over the organization's
/// defaults; held when enrolling and again when each email is due.
@Suite struct SendPolicyTests {
    static let day: Double = 86_400

    /// A token with `scopes` and `policy` (JSON), made by the admin through the API: its secret and id.
    static func policyToken(_ h: Harness, _ policy: String, scopes: String = #"["sequences:write", "email:send", "sequences:read"]"#)
        async throws -> (secret: String, id: String)
    {
        let r = try await h.call(.post, "/v1/tokens/", #"{"name": "agent", "scopes": \#(scopes), "send_policy": \#(policy)}"#)
        try #require(r.status == 201, "token: \(r.body)")
        let secret = try #require(r["token"]?.string)
        SecretLedger.record(secret)
        return (secret, r.id)
    }

    static func step(_ subject: String = "Hello") -> String { "[\(Fixture.step(days: 1, subject: subject))]" }

    @Test func policiesAreSetByAnAdminMergedOverTheOrganizationsDefaultsAndShownToTheToken() async throws {
        try await Harness.run { h in
            let agent = try await Self.policyToken(h, #"{"daily_email_cap": 10, "blocked_domains": ["Rival.example", "*.rival.test"]}"#)
            var me = try await h.call(.get, "/v1/tokens/me/", token: agent.secret)
            #expect(me.status == 200)
            #expect(me["send_policy"]?["daily_email_cap"]?.number == 10)
            #expect(me["send_policy"]?["blocked_domains"] == .array([.string("rival.example"), .string("*.rival.test")]))
            #expect(me["send_policy"]?["require_approval"]?.string == "none")
            #expect(me["policy_version"]?.number == 1)

            // Organization defaults apply under the token's own keys, and raise every token's version.
            let org = try await h.call(
                .patch, "/v1/organization/",
                #"{"send_policy": {"daily_email_cap": 500, "daily_enrollment_cap": 50, "require_approval": "llm_steps"}}"#)
            #expect(org.status == 200, "\(org.body)")
            #expect(org["send_policy"]?["daily_enrollment_cap"]?.number == 50)
            #expect(try await h.call(.get, "/v1/organization/")["send_policy"]?["require_approval"]?.string == "llm_steps")
            me = try await h.call(.get, "/v1/tokens/me/", token: agent.secret)
            #expect(me["send_policy"]?["daily_email_cap"]?.number == 10, "the token's own cap wins")
            #expect(me["send_policy"]?["daily_enrollment_cap"]?.number == 50)
            #expect(me["send_policy"]?["require_approval"]?.string == "llm_steps")
            #expect(me["policy_version"]?.number == 2)

            // The token cannot raise its own limits: not without admin scope, not as an admin either.
            let own = try await h.call(.patch, "/v1/tokens/\(agent.id)/", token: agent.secret, #"{"send_policy": null}"#)
            #expect(own.status == 403)
            #expect(try await h.call(.patch, "/v1/organization/", token: agent.secret, #"{"send_policy": {}}"#).status == 403)
            let adminID = try await h.tokenID(h.admin)
            let selfAdmin = try await h.call(.patch, "/v1/tokens/\(adminID)/", #"{"send_policy": {"daily_email_cap": 1}}"#)
            #expect(selfAdmin.status == 403 && selfAdmin.errorParam == "send_policy", "\(selfAdmin.body)")
            me = try await h.call(.get, "/v1/tokens/me/", token: agent.secret)
            #expect(me["send_policy"]?["daily_email_cap"]?.number == 10 && me["policy_version"]?.number == 2)

            // An admin changes it: the version goes up.
            let patched = try await h.call(.patch, "/v1/tokens/\(agent.id)/", #"{"send_policy": {"daily_email_cap": 20}}"#)
            #expect(patched.status == 200 && patched["policy_version"]?.number == 3, "\(patched.body)")
            me = try await h.call(.get, "/v1/tokens/me/", token: agent.secret)
            #expect(me["send_policy"]?["daily_email_cap"]?.number == 20 && me["send_policy"]?["blocked_domains"] == .null)

            // Bad policies are 422 naming the field.
            for (body, param) in [
                (#"{"daily_email_cap": -1}"#, "send_policy.daily_email_cap"), (#"{"daily_enrollment_cap": 1.5}"#, "send_policy.daily_enrollment_cap"),
                (#"{"allowed_domains": ["not a domain"]}"#, "send_policy.allowed_domains[0]"),
                (#"{"require_approval": "sometimes"}"#, "send_policy.require_approval"), (#"{"daily_cap": 3}"#, "send_policy.daily_cap"),
            ] {
                let r = try await h.call(.patch, "/v1/tokens/\(agent.id)/", #"{"send_policy": \#(body)}"#)
                #expect(r.status == 422 && r.errorParam == param, "\(body): \(r.body)")
                let o = try await h.call(.patch, "/v1/organization/", #"{"send_policy": \#(body)}"#)
                #expect(o.status == 422 && o.errorParam == param, "\(body): \(o.body)")
            }
        }
    }

    @Test func recipientDomainsAreCheckedWhenEnrollingAndTheEnrollmentRecordsThePolicy() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let agent = try await Self.policyToken(
                h, #"{"allowed_domains": ["example.com", "*.partner.test"], "blocked_domains": ["blocked.partner.test"]}"#)
            let ok = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address(), steps: Self.step(), token: agent.secret)
            #expect(ok.status == 201, "\(ok.body)")
            #expect(ok["send_policy"]?["token_id"]?.string == agent.id && ok["send_policy"]?["version"]?.number == 1)
            #expect(
                try await h.enrollAdHoc(inbox: inbox, email: "a-\(Fixture.suffix())@eu.partner.test", steps: Self.step(), token: agent.secret)
                    .status == 201)
            for (email, rule) in [
                ("a-\(Fixture.suffix())@partner.test", "send_policy.allowed_domains"),  // *.suffix is the subdomains only
                ("a-\(Fixture.suffix())@other.test", "send_policy.allowed_domains"),
                ("a-\(Fixture.suffix())@Blocked.Partner.test", "send_policy.blocked_domains"),
            ] {
                let r = try await h.enrollAdHoc(inbox: inbox, email: email, steps: Self.step(), token: agent.secret)
                #expect(r.status == 403 && r.errorParam == rule, "\(email): \(r.body)")
            }
            // A stored contact is checked by its address too, and nothing is created on refusal.
            let contact = try await h.contact("b-\(Fixture.suffix())@other.test")
            let byContact = try await h.call(
                .post, "/v1/sequences/enrollments/", token: agent.secret,
                #"{"inbox_id": "\#(inbox)", "recipient": {"contact_id": "\#(contact.id)"}, "emails": \#(Self.step())}"#)
            #expect(byContact.status == 403 && byContact.errorParam == "send_policy.allowed_domains")
            #expect(try await h.enrollments(ofContact: contact.id).isEmpty)
        }
    }

    /// Eight requests race a cap of three: exactly three pass; the next UTC day the count starts again.
    @Test func theEnrollmentCapHoldsUnderConcurrency() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let agent = try await Self.policyToken(h, #"{"daily_enrollment_cap": 3}"#)
            let replies = try await h.parallel(8) { i in
                try await h.enrollAdHoc(inbox: inbox, email: "race-\(i)-\(Fixture.suffix())@example.com", steps: Self.step(), token: agent.secret)
            }
            #expect(replies.filter { $0.status == 201 }.count == 3, "\(replies.map(\.status))")
            let refused = replies.filter { $0.status != 201 }
            #expect(refused.count == 5 && refused.allSatisfy { $0.status == 403 && $0.errorParam == "send_policy.daily_enrollment_cap" })
            let listed = try await h.call(.get, "/v1/sequences/enrollments/?limit=100")
            #expect(listed.data.count == 3, "refused enrollments are rolled back")
            // Another token of the organization has its own count; the admin has no cap.
            #expect(try await h.enrollAdHoc(inbox: inbox, email: Fixture.address(), steps: Self.step()).status == 201)
            // An existing running enrollment answered again is not a new one.
            _ = try await h.advance(seconds: Self.day + 60)
            let next = try await h.parallel(4) { i in
                try await h.enrollAdHoc(inbox: inbox, email: "next-\(i)-\(Fixture.suffix())@example.com", steps: Self.step(), token: agent.secret)
            }
            #expect(next.filter { $0.status == 201 }.count == 3, "a new UTC day")
        }
    }

    /// The daily email cap defers what is over it to the next UTC day (never dropped), with four
    /// dispatchers racing; emails of the admin's enrollments are not counted against it.
    @Test func theDailyEmailCapDefersToTheNextDayUnderConcurrentDispatch() async throws {
        try await Harness.withSMTP(lanes: 2, configure: { $0.dispatchBatchSize = 2 }) { h, smtp in
            let inbox = try await h.inbox()
            let agent = try await Self.policyToken(h, #"{"daily_email_cap": 3}"#)
            var mine: [String] = []
            for i in 0..<7 {
                let r = try await h.enrollAdHoc(
                    inbox: inbox, email: "cap-\(i)-\(Fixture.suffix())@example.com", steps: "[\(Fixture.step(days: 0, subject: "Hi"))]",
                    token: agent.secret)
                #expect(r.status == 201, "\(r.body)")
                mine.append(r.id)
            }
            #expect(
                try await h.enrollAdHoc(inbox: inbox, email: Fixture.address("admin"), steps: "[\(Fixture.step(days: 0, subject: "Hi"))]").status
                    == 201)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await Dispatcher(services: h.services).drain() } }
                try await group.waitForAll()
            }
            #expect(try smtp.received().count == 4, "3 under the token's cap, 1 of the admin's")
            var states = try await mine.asyncMap { try await h.call(.get, "/v1/sequences/enrollments/\($0)/")["state"]?.string }
            #expect(states.filter { $0 == "completed" }.count == 3)
            #expect(states.filter { $0 == "active" }.count == 4, "held back, not dropped")
            let sentToday = try await h.services.db.system { conn in
                try await conn.query(
                    "SELECT coalesce(sum(sent), 0)::int FROM token_daily_sends WHERE org_id = \(h.org) AND token_id = \(agent.id)",
                    logger: h.services.logger
                )
                .decode(Int.self).collect().first
            }
            #expect(sentToday == 3, "the counter ends at what was sent")
            let metrics = try await h.callWithoutAuth(.get, "/metrics")
            #expect(metrics.body.contains("over_token_cap"))

            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 7)
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 8)
            states = try await mine.asyncMap { try await h.call(.get, "/v1/sequences/enrollments/\($0)/")["state"]?.string }
            #expect(states.allSatisfy { $0 == "completed" })
            #expect(Set(try smtp.received().flatMap(\.rcptTos)).count == 8, "each once")
        }
    }

    @Test func aRecipientWhoseDomainBecameBlockedExitsWithoutASend() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let agent = try await Self.policyToken(h, "{}")
            let blocked = try await h.enrollAdHoc(
                inbox: inbox, email: "x-\(Fixture.suffix())@soon-blocked.test", steps: Self.step(), token: agent.secret)
            let fine = try await h.enrollAdHoc(inbox: inbox, email: Fixture.address(), steps: Self.step(), token: agent.secret)
            #expect(blocked.status == 201 && fine.status == 201)
            // The organization's default blocks it now.
            #expect(
                try await h.call(.patch, "/v1/organization/", #"{"send_policy": {"blocked_domains": ["*.blocked.test", "soon-blocked.test"]}}"#)
                    .status == 200)
            _ = try await h.advance(seconds: Self.day + 60)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(blocked.id)/")
            #expect(e["state"]?.string == "exited" && e["exit_reason"]?.string == "policy_blocked", "\(e.body)")
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(fine.id)/")["state"]?.string == "completed")
            #expect(try smtp.received().count == 1)
            #expect(try smtp.received().allSatisfy { !$0.rcptTos.contains { $0.hasSuffix("soon-blocked.test") } })
            let exits = try await h.events("enrollment.exited")
            #expect(exits.contains { $0["data"]?["enrollment_id"]?.string == blocked.id })
        }
    }

    /// What a token's labels make workflow rules enroll is held to its policy too.
    @Test func workflowRulesFiredByATokenKeepToItsPolicy() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: Self.step()))
            #expect(seq.status == 201)
            let rule = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "label_added", "label": "hot"}, "action": {"type": "enroll", "sequence_id": "\#(seq.id)"}}"#
            )
            #expect(rule.status == 201, "\(rule.body)")
            let agent = try await Self.policyToken(
                h, #"{"daily_enrollment_cap": 1, "blocked_domains": ["blocked.test"]}"#, scopes: #"["contacts:read", "contacts:write"]"#)
            let first = try await h.contact(Fixture.address("a")).id
            let second = try await h.contact(Fixture.address("b")).id
            let blocked = try await h.contact("c-\(Fixture.suffix())@blocked.test").id
            for c in [blocked, first, second] {
                let r = try await h.call(.post, "/v1/contacts/\(c)/labels/", token: agent.secret, #"{"add": ["hot"]}"#)
                #expect(r.status == 200, "\(r.body)")
            }
            #expect(try await h.enrollments(ofContact: blocked).isEmpty, "a blocked domain")
            let made = try await h.enrollments(ofContact: first)
            #expect(made.count == 1 && made.first?["send_policy"]?["token_id"]?.string == agent.id)
            #expect(try await h.enrollments(ofContact: second).isEmpty, "over the daily enrollment cap")
        }
    }
}
