import Foundation
import Nudge
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Pacing per inbox (README, "Pacing"), with the manual clock: the gap between two sends with
/// jitter, the ramp-up day by day, the automatic pause and its resume, and
/// `stop_on_company_reply`.
@Suite struct PacingTests {
    static let day: Double = 86_400

    static func step(days: Double = 0) -> String { "[\(Fixture.step(days: days, subject: "Hello"))]" }

    /// The Date header of a received message: the manual clock's time of its send.
    static func sendTime(_ r: TestSMTPServer.Received) throws -> Date {
        let text = String(decoding: r.raw, as: UTF8.self)
        let line = try #require(text.split(separator: "\r\n").first { $0.hasPrefix("Date: ") })
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return try #require(f.date(from: String(line.dropFirst(6))), "\(line)")
    }

    @Test func sendsOfAPacedInboxKeepTheirGapPlusJitterEvenWithConcurrentDispatchers() async throws {
        try await Harness.withSMTP(configure: { $0.dispatchBatchSize = 2 }) { h, smtp in
            let inbox = try await h.inbox(extra: #", "pacing": {"min_gap_seconds": 600, "jitter_seconds": 120}"#)
            let got = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(got["pacing"]?["min_gap_seconds"]?.number == 600 && got["pacing"]?["jitter_seconds"]?.number == 120, "\(got.body)")
            let unpaced = try await h.inbox()
            for i in 0..<4 {
                #expect(try await h.enrollAdHoc(inbox: inbox, email: "gap-\(i)-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            }
            for i in 0..<3 {
                #expect(try await h.enrollAdHoc(inbox: unpaced, email: "free-\(i)-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            }
            _ = try await h.advance(seconds: 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await Dispatcher(services: h.services).drain() } }
                try await group.waitForAll()
            }
            #expect(try smtp.received().count == 4, "one of the paced inbox, every one of the other")
            // Minute by minute for an hour: each paced send at least 600 s after the previous one, at most 720 s.
            for _ in 0..<60 { _ = try await h.advance(seconds: 60) }
            let paced = try smtp.received().filter { $0.rcptTos[0].hasPrefix("gap-") }
            #expect(paced.count == 4)
            #expect(try smtp.received().count == 7)
            let pacedTimes = try paced.map(Self.sendTime).sorted()
            for (a, b) in zip(pacedTimes, pacedTimes.dropFirst()) {
                let gap = b.timeIntervalSince(a)
                #expect(gap >= 600 && gap <= 720 + 60, "gap \(gap)")
            }
        }
    }

    @Test func aNewInboxRampsUpDayByDayToItsDailyLimit() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox(
                extra: #", "daily_send_limit": 4, "pacing": {"ramp_up": {"start_per_day": 2, "increase_percent": 50}}"#)
            let record = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(record["ramp_started_on"]?.string != nil && record["pacing"]?["ramp_up"]?["start_per_day"]?.number == 2, "\(record.body)")
            for i in 0..<12 {
                #expect(try await h.enrollAdHoc(inbox: inbox, email: "ramp-\(i)-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            }
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().count == 2, "day 0: 2")
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 5, "day 1: 2 x 1.5 = 3")
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 9, "day 2: 4.5, capped at the daily limit 4")
            _ = try await h.advance(seconds: Self.day)
            #expect(try smtp.received().count == 12, "day 3: the rest")
            // Bad settings name the field.
            let bad = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"pacing": {"ramp_up": {"start_per_day": 0}}}"#)
            #expect(bad.status == 422 && bad.errorParam == "pacing.ramp_up.start_per_day", "\(bad.body)")
            let gap = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"pacing": {"min_gap_seconds": -5}}"#)
            #expect(gap.status == 422 && gap.errorParam == "pacing.min_gap_seconds")
            #expect(try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"paused": "yes"}"#).errorParam == "paused")
        }
    }

    /// Hard bounces over the threshold of the last 100 sends pause the inbox (`inbox.paused`,
    /// reason `bounce_rate`); nothing more is sent until a PATCH resumes it.
    @Test func hardBouncesPauseTheInboxUntilAPatchResumesIt() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox(extra: #", "pacing": {"bounce_pause_threshold": 0.02}"#)
            for i in 0..<3 {
                #expect(try await h.enrollAdHoc(inbox: inbox, email: "ok-\(i)-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            }
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.received().count == 3)
            try smtp.script(.rcpt, reply: "550 5.1.1 no such user")
            for i in 0..<2 {
                #expect(try await h.enrollAdHoc(inbox: inbox, email: "gone-\(i)-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            }
            _ = try await h.advance(seconds: 60)
            var record = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(record["paused"]?.bool == false, "2 of 100 is not over 2%")
            #expect(try await h.enrollAdHoc(inbox: inbox, email: "gone-x-\(Fixture.suffix())@example.com", steps: Self.step()).status == 201)
            _ = try await h.advance(seconds: 60)
            record = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(record["paused"]?.bool == true && record["paused_reason"]?.string == "bounce_rate", "\(record.body)")
            let paused = try await h.events("inbox.paused")
            #expect(paused.count == 1 && paused.first?["data"]?["reason"]?.string == "bounce_rate")
            #expect(paused.first?["data"]?["hard_bounces_in_last_100_sends"]?.number == 3)

            try smtp.script(.rcpt, reply: nil)
            let waiting = try await h.enrollAdHoc(inbox: inbox, email: "later-\(Fixture.suffix())@example.com", steps: Self.step())
            _ = try await h.advance(seconds: 3_600)
            #expect(try smtp.received().count == 3, "a paused inbox sends nothing")
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(waiting.id)/")["state"]?.string == "active", "held, not dropped")

            let resumed = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"paused": false}"#)
            #expect(resumed.status == 200 && resumed["paused"]?.bool == false && resumed["paused_reason"] == nil, "\(resumed.body)")
            #expect(try await h.events("inbox.resumed").count == 1)
            _ = try await h.advance(seconds: 900)
            #expect(try smtp.received().count == 4)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(waiting.id)/")["state"]?.string == "completed")
        }
    }

    /// A complaint about mail the inbox sent pauses it at once; a manual pause and resume work too.
    @Test func aComplaintPausesTheInbox() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let complainer = "complainer-\(Fixture.suffix())@client.test"
            #expect(try await h.enrollAdHoc(inbox: inbox, email: complainer, steps: Self.step()).status == 201)
            _ = try await h.advance(seconds: 60)
            let sent = try #require(try smtp.received().first)
            let id = try #require(try await PythonEmail.parse(file: sent.path)["message_id"] as? String).trimmingCharacters(in: ["<", ">"])
            let r = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: HardeningTests.complaint(recipient: complainer, originalID: id))
            #expect(r.status == 202)
            let record = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(record["paused"]?.bool == true && record["paused_reason"]?.string == "complaint", "\(record.body)")
            #expect(try await h.events("inbox.paused").first?["data"]?["reason"]?.string == "complaint")
            #expect(try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"paused": false}"#)["paused"]?.bool == false)
            let manual = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"paused": true}"#)
            #expect(manual["paused"]?.bool == true && manual["paused_reason"]?.string == "manual")
        }
    }

    /// `stop_on_company_reply`: a reply from one contact stops the sequence's enrollments of
    /// colleagues at the same registrable domain (subdomains included), not others, and not in
    /// sequences without the option.
    @Test func aReplyFromTheCompanyStopsColleaguesEnrollments() async throws {
        try await Harness.withSMTP { h, smtp in
            let address = "sales-\(Fixture.suffix())@acme.test"
            let inbox = try await h.inbox(address)
            let steps = "[\(Fixture.step(days: 1, subject: "One")), \(Fixture.step(days: 2, subject: "Two"))]"
            let company = try await h.call(
                .post, "/v1/sequences/",
                #"{"name": "Company", "sender_inbox_id": "\#(inbox)", "stop_on_company_reply": true, "emails": \#(steps)}"#)
            #expect(company.status == 201 && company["stop_on_company_reply"]?.bool == true, "\(company.body)")
            let plain = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: steps))
            #expect(plain["stop_on_company_reply"]?.bool == false)
            func enroll(_ seq: String, _ email: String) async throws -> String {
                let r = try await h.call(
                    .post, "/v1/sequences/enrollments/", #"{"sequence_id": "\#(seq)", "recipient": {"email": "\#(email)"}}"#)
                #expect(r.status == 201, "\(r.body)")
                return r.id
            }
            let s = Fixture.suffix()
            let replier = try await enroll(company.id, "ana-\(s)@client.co.uk")
            let colleague = try await enroll(company.id, "ben-\(s)@client.co.uk")
            let subsidiary = try await enroll(company.id, "cy-\(s)@eu.client.co.uk")
            let otherCompany = try await enroll(company.id, "dee-\(s)@other.co.uk")
            let otherSequence = try await enroll(plain.id, "eve-\(s)@client.co.uk")
            let raw =
                "From: Ana <ana-\(s)@client.co.uk>\r\nTo: \(address)\r\nSubject: Re: One\r\nMessage-ID: <r-\(s)@client.co.uk>\r\n\r\nThanks, we will discuss internally.\r\n"
            #expect(try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(raw.utf8)).status == 202)
            func state(_ id: String) async throws -> (String?, String?) {
                let e = try await h.call(.get, "/v1/sequences/enrollments/\(id)/")
                return (e["state"]?.string, e["exit_reason"]?.string)
            }
            #expect(try await state(replier) == ("exited", "replied"))
            #expect(try await state(colleague) == ("exited", "company_replied"))
            #expect(try await state(subsidiary) == ("exited", "company_replied"))
            #expect(try await state(otherCompany).0 == "active")
            #expect(try await state(otherSequence).0 == "active")
            #expect(RegistrableDomain.of(address: "x@mail.client.co.uk") == "client.co.uk")
            #expect(RegistrableDomain.of(address: "x@a.b.example.com") == "example.com")
        }
    }
}
