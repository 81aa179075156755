import Foundation
import Nudge
import NudgeCore
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Approval drafts (README, "Approval drafts"): steps of a token whose send policy requires
/// approval wait as drafts; approve (with an edit), reject, expiry, and the enrollment's end
/// while a draft waits.
@Suite struct DraftTests {
    static let day: Double = 86_400

    /// A token whose policy is `policy`, and an ad-hoc enrollment by it of a new address with `steps`.
    static func drafted(_ h: Harness, inbox: String, policy: String, steps: String, email: String = Fixture.address("d")) async throws
        -> (token: String, enrollment: String, email: String)
    {
        let t = try await SendPolicyTests.policyToken(h, policy)
        let e = try await h.enrollAdHoc(inbox: inbox, email: email, steps: steps, token: t.secret)
        try #require(e.status == 201, "\(e.body)")
        return (t.secret, e.id, email)
    }

    static func draft(_ h: Harness, of enrollment: String) async throws -> JSONValue? {
        try await h.call(.get, "/v1/drafts/?enrollment_id=\(enrollment)").data.first
    }

    static let oneStep = #"[{"delay_days": 0, "subject": "Hello {{contact.email}}", "body": "A first line."}]"#

    @Test func anApprovedDraftIsSentOnceWithItsEditUnderItsMessageID() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let (_, enrollment, email) = try await Self.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: Self.oneStep)
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().isEmpty, "waits for approval")
            let pending = try await h.call(.get, "/v1/drafts/?state=pending")
            #expect(pending.status == 200)
            let d = try #require(pending.data.first { $0["enrollment_id"]?.string == enrollment })
            let id = try #require(d["id"]?.string)
            #expect(d["subject"]?.string == "Hello \(email)" && d["body"]?.string == "A first line." && d["recipient"]?.string == email)
            #expect(d["expiry_action"]?.string == "skip")
            #expect(try await h.events("draft.created").contains { $0["data"]?["draft_id"]?.string == id })
            // Still waiting a day later.
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().isEmpty)

            let approved = try await h.call(.post, "/v1/drafts/\(id)/approve/", #"{"subject": "Hello again"}"#)
            #expect(approved.status == 200, "\(approved.body)")
            let adminID = try await h.tokenID(h.admin)
            #expect(approved["state"]?.string == "approved" && approved["decision"]?.string == "send")
            #expect(approved["subject"]?.string == "Hello again" && approved["original_subject"]?.string == "Hello \(email)")
            #expect(approved["edited_by"]?.string == adminID && approved["decided_by"]?.string == adminID)
            #expect(approved["original_body"] == nil, "the body was not edited")
            // Deciding twice is a conflict.
            #expect(try await h.call(.post, "/v1/drafts/\(id)/approve/").status == 409)
            #expect(try await h.call(.post, "/v1/drafts/\(id)/reject/", #"{"action": "exit"}"#).status == 409)

            _ = try await h.advance(seconds: 60)
            _ = try await h.advance(seconds: 60)
            let got = try smtp.received()
            #expect(got.count == 1, "once")
            let text = String(decoding: try #require(got.first).raw, as: UTF8.self)
            #expect(text.contains("Subject: Hello again") && text.contains("A first line."))
            let sent = try #require(try await h.events("message.sent").first { $0["data"]?["enrollment_id"]?.string == enrollment })
            let rfcID = try #require(sent["data"]?["rfc822_message_id"]?.string)
            #expect(text.contains("Message-ID: <\(rfcID.trimmingCharacters(in: CharacterSet(charactersIn: "<>")))>"))
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")["state"]?.string == "completed")
            let decided = try await h.events("draft.decided").first { $0["data"]?["draft_id"]?.string == id }
            #expect(decided?["data"]?["decision"]?.string == "send" && decided?["data"]?["edited"]?.bool == true)
        }
    }

    @Test func rejectingSkipsTheStepOrEndsTheEnrollment() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let steps = #"[{"delay_days": 0, "subject": "One", "body": "First."}, {"delay_days": 1, "subject": "Two", "body": "Second."}]"#
            let (_, enrollment, _) = try await Self.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: steps)
            _ = try await h.advance(seconds: 60)
            let first = try #require(try await Self.draft(h, of: enrollment)?["id"]?.string)
            let bad = try await h.call(.post, "/v1/drafts/\(first)/reject/", #"{"action": "later"}"#)
            #expect(bad.status == 422 && bad.errorParam == "action")
            let skipped = try await h.call(.post, "/v1/drafts/\(first)/reject/", #"{"action": "skip_step"}"#)
            #expect(skipped.status == 200 && skipped["state"]?.string == "rejected" && skipped["decision"]?.string == "skip_step", "\(skipped.body)")
            var e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["state"]?.string == "active" && e["next_step"]?.number == 1)
            _ = try await h.advance(seconds: Self.day + 60)
            #expect(try smtp.received().isEmpty)
            let second = try #require(
                try await h.call(.get, "/v1/drafts/?enrollment_id=\(enrollment)&state=pending").data.first)
            #expect(second["step_index"]?.number == 1 && second["subject"]?.string == "Two")
            let exited = try await h.call(.post, "/v1/drafts/\(second["id"]!.string!)/reject/", #"{"action": "exit"}"#)
            #expect(exited.status == 200 && exited["decision"]?.string == "exit")
            e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["state"]?.string == "exited" && e["exit_reason"]?.string == "draft_rejected")
            _ = try await h.advance(seconds: 3 * Self.day)
            #expect(try smtp.received().isEmpty, "nothing rejected is ever sent")
        }
    }

    @Test func expiryEitherSendsOrSkips() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let send = try await Self.drafted(
                h, inbox: inbox, policy: #"{"require_approval": "all_steps", "approval_expiry_hours": 2, "approval_expiry_action": "send"}"#,
                steps: Self.oneStep)
            let skip = try await Self.drafted(
                h, inbox: inbox, policy: #"{"require_approval": "all_steps", "approval_expiry_hours": 2}"#, steps: Self.oneStep)
            _ = try await h.advance(seconds: 60)
            let sendDraft = try #require(try await Self.draft(h, of: send.enrollment))
            #expect(sendDraft["state"]?.string == "pending" && sendDraft["expiry_action"]?.string == "send")
            _ = try await h.advance(seconds: 3_600)
            #expect(try smtp.received().isEmpty, "not expired yet")
            _ = try await h.advance(seconds: 3_600)
            let got = try smtp.received()
            #expect(got.count == 1 && got.first?.rcptTos == [send.email], "the expiry sent one, skipped the other")
            let sent = try #require(try await Self.draft(h, of: send.enrollment))
            #expect(sent["state"]?.string == "expired" && sent["decision"]?.string == "send" && sent["decided_by"] == nil, "\(sent)")
            let skipped = try #require(try await Self.draft(h, of: skip.enrollment))
            #expect(skipped["state"]?.string == "expired" && skipped["decision"]?.string == "skip_step")
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(send.enrollment)/")["state"]?.string == "completed")
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(skip.enrollment)/")["state"]?.string == "completed")
            let decided = try await h.events("draft.decided")
            #expect(decided.filter { $0["data"]?["expired"]?.bool == true }.count == 2)
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 1)
        }
    }

    /// A reply, a cancel or a suppression while a draft waits voids it; approving it then is a
    /// conflict and nothing is sent.
    @Test func aReplyCancelOrSuppressionVoidsAWaitingDraft() async throws {
        try await Harness.withSMTP { h, smtp in
            let inboxAddress = "sales-\(Fixture.suffix())@acme.test"
            let inbox = try await h.inbox(inboxAddress)
            let policy = #"{"require_approval": "all_steps"}"#
            let replied = try await Self.drafted(h, inbox: inbox, policy: policy, steps: Self.oneStep)
            let cancelled = try await Self.drafted(h, inbox: inbox, policy: policy, steps: Self.oneStep)
            let suppressed = try await Self.drafted(h, inbox: inbox, policy: policy, steps: Self.oneStep)
            _ = try await h.advance(seconds: 60)
            var ids: [String: String] = [:]
            for (name, e) in [("replied", replied), ("cancelled", cancelled), ("suppressed", suppressed)] {
                ids[name] = try #require(try await Self.draft(h, of: e.enrollment)?["id"]?.string)
            }
            let raw =
                "From: <\(replied.email)>\r\nTo: \(inboxAddress)\r\nSubject: Re: Hello\r\nMessage-ID: <reply-\(Fixture.suffix())@example.com>\r\n\r\nThanks, I will call you.\r\n"
            #expect(try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(raw.utf8)).status == 202)
            #expect(try await h.call(.patch, "/v1/sequences/enrollments/\(cancelled.enrollment)/", #"{"action": "cancel"}"#).status == 200)
            #expect(try await h.call(.post, "/v1/suppressions/", #"{"email": "\#(suppressed.email)", "reason": "manual"}"#).status == 201)

            for (name, reason) in [("replied", "exited: replied"), ("cancelled", "cancelled"), ("suppressed", "exited: suppressed")] {
                let d = try await h.call(.get, "/v1/drafts/\(ids[name]!)/")
                #expect(d["state"]?.string == "voided" && d["void_reason"]?.string == reason, "\(name): \(d.body)")
                let approve = try await h.call(.post, "/v1/drafts/\(ids[name]!)/approve/")
                #expect(approve.status == 409, "\(name): \(approve.body)")
            }
            let voids = try await h.events("draft.decided").filter { $0["data"]?["decision"]?.string == "void" }
            #expect(Set(voids.compactMap { $0["data"]?["draft_id"]?.string }) == Set(ids.values), "\(voids)")
            #expect(voids.allSatisfy { ($0["id"]?.string).map { ID.isValid($0, .evt) } == true })
            _ = try await h.advance(seconds: 4 * Self.day)
            #expect(try smtp.received().isEmpty)
        }
    }

    /// `llm_steps`: the template step goes out directly; the prompt step is written by the model
    /// when due (through the output guard) and then waits as a draft of the model's text.
    @Test func onlyLLMWrittenStepsWaitUnderLLMSteps() async throws {
        let llm = try await ScriptedLLM.start()
        defer { llm.stop() }
        llm.script(OutputGuardSendTests.answer("About the proposal", "Hi,\n\nHappy to walk you through the proposal on a call.\n\nAcme Sales"))
        try await Harness.withSMTP(llm: LLMTests.settings(llm)) { h, smtp in
            let inbox = try await h.inbox()
            let steps =
                #"[{"delay_days": 0, "subject": "Hello", "body": "A first line."}, {"delay_days": 1, "prompt": "Write a short follow-up about the proposal."}]"#
            let (_, enrollment, _) = try await Self.drafted(h, inbox: inbox, policy: #"{"require_approval": "llm_steps"}"#, steps: steps)
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().count == 1, "the template step needs no approval")
            #expect(try await Self.draft(h, of: enrollment) == nil)
            _ = try await h.advance(seconds: Self.day)
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().count == 1)
            let d = try #require(try await Self.draft(h, of: enrollment))
            #expect(d["state"]?.string == "pending" && d["step_index"]?.number == 1 && d["subject"]?.string == "About the proposal", "\(d)")
            #expect(d["body"]?.string?.contains("walk you through the proposal") == true)
            #expect(try await h.call(.post, "/v1/drafts/\(d["id"]!.string!)/approve/", "{}").status == 200)
            _ = try await h.advance(seconds: 60)
            let got = try smtp.received()
            #expect(got.count == 2)
            #expect(String(decoding: got[1].raw, as: UTF8.self).contains("walk you through the proposal"))
            #expect(llm.requests.withLock { $0.count } == 1, "written once, when due")
        }
    }

    /// Decisions racing on one draft: exactly one wins, the others are 409s, and one email goes out.
    @Test func racingDecisionsLeaveOneWinner() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let (_, enrollment, _) = try await Self.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: Self.oneStep)
            _ = try await h.advance(seconds: 60)
            let id = try #require(try await Self.draft(h, of: enrollment)?["id"]?.string)
            let replies = try await h.parallel(6) { i in
                i % 2 == 0
                    ? try await h.call(.post, "/v1/drafts/\(id)/approve/")
                    : try await h.call(.post, "/v1/drafts/\(id)/reject/", #"{"action": "exit"}"#)
            }
            #expect(replies.filter { $0.status == 200 }.count == 1, "\(replies.map(\.status))")
            #expect(replies.filter { $0.status == 409 }.count == 5)
            _ = try await h.advance(seconds: 60)
            let state = try await h.call(.get, "/v1/drafts/\(id)/")["state"]?.string
            #expect(try smtp.received().count == (state == "approved" ? 1 : 0))
        }
    }

    /// Scopes: drafts:read lists, drafts:write decides; neither alone does the other's work.
    @Test func draftScopes() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let (_, enrollment, _) = try await Self.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: Self.oneStep)
            try await Dispatcher(services: h.services).drain()
            let id = try #require(try await Self.draft(h, of: enrollment)?["id"]?.string)
            let reader = try await h.token(["drafts:read"])
            let writer = try await h.token(["drafts:write"])
            #expect(try await h.call(.get, "/v1/drafts/", token: reader).status == 200)
            #expect(try await h.call(.get, "/v1/drafts/", token: writer).status == 403)
            #expect(try await h.call(.get, "/v1/drafts/?state=waiting", token: reader).errorParam == "state")
            #expect(try await h.call(.post, "/v1/drafts/\(id)/approve/", token: reader).status == 403)
            #expect(try await h.call(.get, "/v1/events/?type=draft.created", token: reader).data.count == 1)
            let edit = try await h.call(.post, "/v1/drafts/\(id)/approve/", token: writer, #"{"body": ""}"#)
            #expect(edit.status == 422 && edit.errorParam == "body")
            #expect(try await h.call(.post, "/v1/drafts/\(id)/approve/", token: writer, #"{"body": "Edited."}"#).status == 200)
            #expect(try await h.call(.get, "/v1/drafts/\(id)/", token: reader)["original_body"]?.string == "A first line.")
            #expect(try await h.call(.get, "/v1/drafts/\(Fixture.unknownID(.drf))/", token: reader).status == 404)
        }
    }
}
