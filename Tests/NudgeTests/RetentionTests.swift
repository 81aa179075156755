import Foundation
import PostgresNIO
import Testing

@testable import NudgeCore
@testable import NudgeStore
@testable import NudgeWorkers

/// Retention with the manual clock: nothing younger than its window goes, what is older goes in
/// batches, a feed cursor into removed events is a 410 that says where to resume, and a thread
/// whose bodies were removed still stops its enrollment on a reply. Webhook deliveries go with
/// their events.
@Suite struct RetentionTests {
    static let day: Double = 86_400

    @Test func eventsBodiesAndCallLogsGoAfterTheirWindowsAndRepliesStillStop() async throws {
        try await Harness.run(configure: { $0.webhookAllowPrivate = true }) { h in
            let inbox = try await h.inbox()
            let address = Fixture.address()
            // An endpoint nobody answers: its deliveries stay pending, and go with their events.
            let hook = try await h.call(.post, "/v1/webhooks/", #"{"url": "http://127.0.0.1:9/hook"}"#)
            #expect(hook.status == 201, "\(hook.body)")
            // Step 1 now, step 2 in five days: the enrollment still runs when step 1's body goes.
            let enrolled = try await h.enrollAdHoc(
                inbox: inbox, email: address,
                steps: #"[{"delay_days": 0, "subject": "Hello", "body": "First"}, {"delay_days": 5, "subject": "Again", "body": "Second"}]"#)
            #expect(enrolled.status == 201)
            _ = try await h.advance(seconds: 60)
            let first = try await h.call(.get, "/v1/events/?limit=200")
            let firstEvents = first["data"]?.items ?? []
            let oldestID = try #require(firstEvents.first?["id"]?.string)
            #expect(firstEvents.count >= 2)
            // An LLM call record, as the writer and the judge keep them.
            let db = h.services.db
            let org = h.org
            try await db.tenant(org) { conn in
                try await LLMCallStore.insert(
                    LLMCall(
                        org: org, purpose: .judge, enrollmentID: enrolled.id, model: "m", outcome: "success", latencyMS: 1, promptTokens: 1,
                        completionTokens: 1,
                        promptHash: "x"), now: h.clock.now(), conn, logger: db.logger)
            }
            #expect(try await h.services.tokens.setRetention(org: org, RetentionPolicy(eventsDays: 1, bodiesDays: 2, llmCallsDays: 3)))
            let worker = RetentionWorker(services: h.services)

            // Nothing is old enough yet.
            #expect(try await worker.runOnce() == .init())

            // A day and a half later: the events go, the bodies and the call log stay.
            _ = try await h.advance(seconds: 1.5 * Self.day)
            let pass1 = try await worker.runOnce()
            #expect(pass1.events == firstEvents.count && pass1.bodies == 0 && pass1.llmCalls == 0, "\(pass1)")
            #expect(pass1.webhookDeliveries == firstEvents.count, "\(pass1)")
            let deliveries = try await h.call(.get, "/v1/webhooks/\(hook.id)/deliveries/")
            #expect(deliveries["data"]?.items.isEmpty == true, "\(deliveries.body)")
            let gone = try await h.call(.get, "/v1/events/?after=\(oldestID)")
            #expect(gone.status == 410 && gone.errorParam == "after", "\(gone.body)")
            #expect(gone.json["error"]?["message"]?.string?.contains("removed by retention") == true)
            // An id that never was is still a 410 once events were removed (it cannot be told apart).
            #expect(try await h.call(.get, "/v1/events/?after=not-an-id").status == 422)

            // Two and a half days: step 1's body goes; its ids and thread stay.
            _ = try await h.advance(seconds: Self.day)
            let pass2 = try await worker.runOnce()
            #expect(pass2.bodies == 1 && pass2.llmCalls == 0, "\(pass2)")
            let enrollment = try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)")
            let sent = try #require(enrollment["timeline"]?.items.first)
            let rfcID = try #require(sent["rfc822_message_id"]?.string)
            let messageID = try #require(sent["message_id"]?.string)
            let thread = try #require(enrollment["thread_id"]?.string)
            let kept = try await h.call(.get, "/v1/threads/\(thread)")
            let stored = try #require(kept["messages"]?.items.first { $0["id"]?.string == messageID })
            #expect(stored["text"]?.string == "" && stored["rfc822_message_id"]?.string == rfcID, "\(stored)")

            // A reply to the purged message still finds the thread and stops the enrollment.
            let reply = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    "From: <\(address)>\r\nTo: sales@acme.test\r\nSubject: Re: Hello\r\nMessage-ID: <reply-\(UUID().uuidString)@example.com>\r\nIn-Reply-To: <\(rfcID)>\r\n\r\nThanks, not now.\r\n"
                        .utf8))
            #expect(reply.status == 202, "\(reply.body)")
            #expect(reply["thread_id"]?.string == thread)
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)")
            #expect(after["state"]?.string == "exited" && after["exit_reason"]?.string == "replied", "\(after.body)")

            // Three and a half days: the call log goes too; the reply's body is young and stays.
            _ = try await h.advance(seconds: Self.day)
            let pass3 = try await worker.runOnce()
            #expect(pass3.llmCalls == 1 && pass3.bodies == 0, "\(pass3)")
        }
    }

    @Test func policiesAreValidated() async throws {
        try await Harness.run { h in
            await #expect(throws: NudgeError.self) {
                _ = try await h.services.tokens.setRetention(org: h.org, RetentionPolicy(eventsDays: 0, bodiesDays: 1, llmCallsDays: 1))
            }
            let missing = try await h.services.tokens.setRetention(org: "org_missing", .defaults)
            #expect(!missing)
        }
    }
}
