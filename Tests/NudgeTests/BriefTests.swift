import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Testing

/// The product brief's request bodies, exactly as written there (ids substituted with real ones).
@Suite struct BriefTests {
    @Test func contactStep01CreatesThenUpdates() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let body = """
                {"inbox_id": "\(inbox)", "full_name": "Avery Chen", "emails": [{"label": "work", "address": "buyer@example.com"}],
                 "notes": "Source message: msg_123. Labels to apply after creation: lead, proposal-open."}
                """
            let first = try await h.call(.post, "/v1/contacts/", body)
            #expect(first.status == 201, "\(first.body)")
            #expect(first["first_name"]?.string == "Avery")
            #expect(first["last_name"]?.string == "Chen")
            let second = try await h.call(.post, "/v1/contacts", body)
            #expect(second.status == 200)
            #expect(second.id == first.id)
            // Case-insensitive match on the whole address.
            let third = try await h.call(.post, "/v1/contacts/", #"{"emails": [{"address": "BUYER@Example.com"}], "labels": ["lead"]}"#)
            #expect(third.status == 200)
            #expect(third.id == first.id)
            #expect(third["labels"] == .array(["lead"]))
        }
    }

    @Test func sequencesStep02BothBodies() async throws {
        try await Harness.run(llm: LLMSettings(url: "http://127.0.0.1:9/v1", model: "x", apiKey: nil)) { h in
            let inbox = try await h.inbox()
            let plain = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox))
            #expect(plain.status == 201, "\(plain.body)")
            #expect(plain["emails"].map { if case .array(let a) = $0 { return a.count } else { return 0 } } == 2)
            let prompted = try await h.call(.post, "/v1/sequences/", BriefBodies.promptSequence(inbox))
            #expect(prompted.status == 201, "\(prompted.body)")
        }
    }

    @Test func promptSequenceWithoutLLMIsRefusedNamingTheVariables() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let r = try await h.call(.post, "/v1/sequences/", BriefBodies.promptSequence(inbox))
            #expect(r.status == 422)
            #expect(r.errorParam == "emails[0].prompt")
            #expect(r.json["error"]?["message"]?.string?.contains("NUDGE_LLM_URL") == true)
        }
    }

    @Test func enrollmentsStep03AllThreeShapesAndCancel() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", BriefBodies.sequence(inbox)).id
            let contact = try await h.call(
                .post, "/v1/contacts/",
                #"{"inbox_id": "\#(inbox)", "full_name": "Avery Chen", "emails": [{"label": "work", "address": "buyer@example.com"}]}"#
            ).id
            // A source message in the inbox: the buyer's original email.
            let inbound = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    """
                    From: Avery Chen <buyer@example.com>\r\nTo: sales@acme.test\r\nSubject: Proposal for review\r\nMessage-ID: <orig-1@example.com>\r\n\r\nPlease send the proposal.\r\n
                    """.utf8))
            #expect(inbound.status == 202, "\(inbound.body)")
            let msg = inbound["message_id"]!.string!
            let thr = inbound["thread_id"]!.string!

            let template = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "sequence_id": "\(seq)", "recipient": {"contact_id": "\(contact)"},
                 "source": {"type": "email", "message_id": "\(msg)", "thread_id": "\(thr)", "subject": "Proposal for review", "from_address": "buyer@example.com"}}
                """)
            #expect(template.status == 201, "\(template.body)")
            #expect(template["state"]?.string == "active")
            #expect(template["thread_id"]?.string == thr)

            // Automation-triggered shape, same contact and sequence: the running one comes back.
            let automated = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "recipient": {"contact_id": "\(contact)"}, "sequence_id": "\(seq)", "exit_on_reply": true,
                 "source": {"type": "email", "message_id": "\(msg)", "thread_id": "\(thr)", "subject": "Proposal follow-up trigger"}}
                """)
            #expect(automated.status == 200)
            #expect(automated.id == template.id)

            let adhoc = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "recipient": {"email": "buyer@example.com"}, "exit_on_reply": true,
                 "source": {"type": "email", "message_id": "\(msg)", "thread_id": "\(thr)"},
                 "emails": [{"delay_days": 2, "subject": "Following up", "body": "Checking whether this is still useful."}]}
                """)
            #expect(adhoc.status == 201, "\(adhoc.body)")
            #expect(adhoc["contact_id"]?.string == contact)

            let cancel = try await h.call(.patch, "/v1/sequences/enrollments/\(template.id)/", #"{"action": "cancel"}"#)
            #expect(cancel.status == 200)
            #expect(cancel["state"]?.string == "cancelled")
            let again = try await h.call(.patch, "/v1/sequences/enrollments/\(template.id)", #"{"action": "resume"}"#)
            #expect(again.status == 409)
        }
    }
}

enum BriefBodies {
    static func sequence(_ inbox: String) -> String {
        """
        {"name": "Proposal follow-up", "sender_inbox_id": "\(inbox)", "exit_on_reply": true,
         "emails": [
           {"delay_days": 2, "subject": "Following up on the proposal", "body": "Checking whether you had a chance to review the proposal."},
           {"delay_days": 5, "subject": "Any questions on the proposal?", "body": "Happy to answer questions or adjust timing if useful."}],
         "exit_condition_prompt": null}
        """
    }

    static func sequenceWithExitCondition(_ inbox: String) -> String {
        """
        {"name": "Proposal follow-up", "sender_inbox_id": "\(inbox)", "exit_on_reply": true,
         "emails": [
           {"delay_days": 2, "subject": "Following up on the proposal", "body": "Checking whether you had a chance to review the proposal."},
           {"delay_days": 5, "subject": "Any questions on the proposal?", "body": "Happy to answer questions or adjust timing if useful."}],
         "exit_condition_prompt": "Exit if the contact replies, declines, or says the request is no longer relevant."}
        """
    }

    static func promptSequence(_ inbox: String) -> String {
        """
        {"name": "Contextual client nudge", "sender_inbox_id": "\(inbox)", "exit_on_reply": true,
         "emails": [{"delay_days": 4, "subject": "Following up", "prompt": "Write a concise follow-up based on the source message and latest thread context."}],
         "exit_condition_prompt": "Exit if the contact replies or clearly declines."}
        """
    }
}
