import Foundation
import NudgeCore
import NudgeMIME
import NudgeStore
import NudgeWorkers
import PostgresNIO
import Testing

/// Reply intelligence through the real endpoints and PostgreSQL: intents and signatures on
/// stored messages, unsubscribe in words, out-of-office holds on the manual clock.
@Suite struct ReplyIntelligenceTests {
    static let day = 86_400.0

    /// A raw message from `from`; `auto` marks it as an automatic reply (RFC 3834).
    static func mail(from: String, subject: String, body: String, date: String? = nil, auto: Bool = false) -> [UInt8] {
        var headers = [
            "From: \(from)", "To: sales@acme.test", "Subject: \(subject)", "Message-ID: <\(UUID().uuidString)@example.com>",
            "Content-Type: text/plain; charset=utf-8",
        ]
        if let date { headers.append("Date: \(date)") }
        if auto { headers.append("Auto-Submitted: auto-replied") }
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n").utf8)
    }

    static func receive(_ h: Harness, _ inbox: String, _ raw: [UInt8]) async throws -> Reply {
        let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
        precondition(r.status == 202, "inbound: \(r.body)")
        return r
    }

    /// A contact of `inbox` enrolled in a new sequence of one email after `days` (with `settings`
    /// such as `, "on_out_of_office": "exit"`); the enrollment's id.
    static func enroll(_ h: Harness, inbox: String, address: String, days: Double = 3, settings: String = "") async throws -> String {
        let contact = try await h.contact(address, inbox: inbox).id
        let seq = try await h.call(
            .post, "/v1/sequences/",
            #"{"name": "OOO", "sender_inbox_id": "\#(inbox)", "exit_on_reply": true\#(settings), "emails": [\#(Fixture.step(days: days, subject: "Following up"))]}"#
        )
        precondition(seq.status == 201, "sequence: \(seq.body)")
        let e = try await h.call(
            .post, "/v1/sequences/enrollments/",
            #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(seq.id)", "recipient": {"contact_id": "\#(contact)"}}"#)
        precondition(e.status == 201, "enroll: \(e.body)")
        return e.id
    }

    /// An inbox in Europe/Berlin sending Monday to Friday, 09:00-17:00.
    static func berlinInbox(_ h: Harness) async throws -> String {
        let r = try await h.call(
            .post, "/v1/inboxes/",
            #"{"address": "sales-\#(Fixture.suffix())@acme.test", "display_name": "Acme", "timezone": "Europe/Berlin", "send_window": {"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "17:00"}}"#
        )
        precondition(r.status == 201, "inbox: \(r.body)")
        return r.id
    }

    // MARK: Intents and signatures

    /// The stored and documented intents are the classifier's.
    @Test func intentNamesMatchTheClassifier() throws {
        #expect(ReplyFacts.intents == ReplyIntent.Kind.allCases.map(\.rawValue))
        let doc = try String(contentsOf: TestCluster.packageRoot.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        let enumValues = JSONValue.parse(doc)?["components"]?["schemas"]?["Message"]?["properties"]?["intent"]?["enum"]?.items.compactMap(\.string)
        #expect(enumValues == ReplyFacts.intents)
    }

    @Test func repliesCarryIntentSignatureAndReferralsOnMessagesAndEvents() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let buyer = Fixture.address("buyer")
            _ = try await h.contact(buyer, inbox: inbox)
            let r = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: "Avery Chen <\(buyer)>", subject: "Re: Proposal",
                    body: "Could we set up a call next week to go through it?\n\nSent from my iPhone"))
            #expect(r["classification"]?.string == "human_reply")
            let m = try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")
            #expect(m["reply_text"]?.string == "Could we set up a call next week to go through it?")
            #expect(m["signature_text"]?.string == "Sent from my iPhone")
            #expect(m["intent"]?.string == "meeting_request")
            #expect(m["intent_source"]?.string == "rules")
            #expect((m["intent_confidence"]?.number ?? 0) > 0.5)
            // The thread's messages carry the same fields.
            let t = try await h.call(.get, "/v1/threads/\(r["thread_id"]!.string!)/")
            #expect(t["messages"]?[0]?["intent"]?.string == "meeting_request")

            let gone = Fixture.address("gone")
            let referral = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: gone, subject: "Re: Proposal",
                    body: "Hi,\n\nI have left the company. Please contact Maria Lopez (maria.lopez@example.com) instead.\n\nBest,\nJo"))
            let rm = try await h.call(.get, "/v1/messages/\(referral["message_id"]!.string!)/")
            #expect(rm["intent"]?.string == "referral")
            #expect(rm["referrals"]?[0]?["email"]?.string == "maria.lopez@example.com")
            #expect(rm["referrals"]?[0]?["name"]?.string == "Maria Lopez")

            let events = try await h.events("message.received")
            #expect(events.count == 2)
            #expect(events[0]["data"]?["intent"]?.string == "meeting_request")
            #expect(events[1]["data"]?["intent"]?.string == "referral")
            #expect(events[1]["data"]?["referrals"]?[0]?["email"]?.string == "maria.lopez@example.com")

            // Not a reply: no intent.
            let other = try await Self.receive(
                h, inbox, Self.mail(from: "news@example.org", subject: "Newsletter", body: "This week in news.", auto: false))
            if other["classification"]?.string == "other" {
                #expect(try await h.call(.get, "/v1/messages/\(other["message_id"]!.string!)/")["intent"] == .null)
            }
        }
    }

    // MARK: Unsubscribe in words

    @Test func askingToBeRemovedSuppressesAndExitsEveryEnrollmentOfTheContact() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let second = try await h.inbox()
            let buyer = Fixture.address("buyer")
            let first = try await Self.enroll(h, inbox: inbox, address: buyer, days: 2)
            let contact = try await h.call(.get, "/v1/sequences/enrollments/\(first)/")["contact_id"]!.string!
            let other = try await h.call(
                .post, "/v1/sequences/enrollments/",
                #"{"inbox_id": "\#(second)", "recipient": {"contact_id": "\#(contact)"}, "exit_on_reply": false, "emails": [\#(Fixture.step(days: 5, subject: "Other"))]}"#
            )
            #expect(other.status == 201)
            // A polite "not now" from someone else suppresses nothing.
            let calm = Fixture.address("calm")
            _ = try await h.contact(calm, inbox: inbox)
            _ = try await Self.receive(h, inbox, Self.mail(from: calm, subject: "Re: Hello", body: "Not right now, maybe next quarter."))

            let r = try await Self.receive(
                h, inbox,
                Self.mail(from: buyer, subject: "Re: Following up", body: "Bitte keine weiteren E-Mails.\n\nMit freundlichen Grüßen\nK. Braun"))
            #expect(Set(r["enrollments"]?.items.compactMap(\.string) ?? []) == [first, other.id])
            let sup = try await h.call(.get, "/v1/suppressions/?limit=50")
            #expect(sup.data.count == 1)
            #expect(sup.data.first?["email"]?.string == buyer)
            #expect(sup.data.first?["reason"]?.string == "unsubscribed")
            #expect(sup.data.first?["detail"]?.string == "asked in reply")
            for id in [first, other.id] {
                let e = try await h.call(.get, "/v1/sequences/enrollments/\(id)/")
                #expect(e["state"]?.string == "exited")
                #expect(e["exit_reason"]?.string == "unsubscribed")
            }
            let m = try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")
            #expect(m["intent"]?.string == "unsubscribe_request")
            #expect(m["signature_text"]?.string == "Mit freundlichen Grüßen\nK. Braun")
        }
    }

    /// A request to be removed suppresses whatever else the reply says: an absence in a
    /// person's reply, a hand-over (whose referred person is still enrolled by the referral
    /// rule), and an automatic absence notice that asks it.
    @Test func aRemovalRequestWithAnAbsenceOrAHandOverSuppresses() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let referred = try await h.call(
                .post, "/v1/sequences/", Fixture.sequence(inbox, name: "Referred", emails: "[\(Fixture.step(days: 1, subject: "Hi"))]")
            ).id
            let rule = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "reply_intent", "intent": "referral"}, "action": {"type": "enroll", "sequence_id": "\#(referred)", "target": "referred"}}"#
            )
            #expect(rule.status == 201)
            let (away, gone, auto) = (Fixture.address("away"), Fixture.address("gone"), Fixture.address("auto"))
            let maria = "maria-\(Fixture.suffix())@example.com"
            var enrollments: [String: String] = [:]
            for who in [away, gone, auto] { enrollments[who] = try await Self.enroll(h, inbox: inbox, address: who) }
            let replies = [
                (away, Self.mail(from: away, subject: "Re: Following up", body: "I'm on vacation this week. Please remove me from your list.")),
                (
                    gone,
                    Self.mail(
                        from: gone, subject: "Re: Following up",
                        body: "I've left the company, write to Maria Lopez (\(maria)), and take me off your list.\n\nThanks,\nJo")
                ),
                (
                    auto,
                    Self.mail(
                        from: auto, subject: "Automatic reply: Following up",
                        body:
                            "I am out of the office until 14 December. This mailbox is no longer monitored, please remove me from your mailing list.",
                        date: "Thu, 19 Nov 2026 12:06:40 +0100", auto: true)
                ),
            ]
            var intents: [String] = []
            for (who, raw) in replies {
                let r = try await Self.receive(h, inbox, raw)
                #expect(r["enrollments"]?.items.compactMap(\.string).contains(enrollments[who]!) == true, "\(who)")
                let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollments[who]!)/")
                #expect(e["state"]?.string == "exited", "\(who)")
                #expect(e["exit_reason"]?.string == "unsubscribed", "\(who)")
                let sup = try await h.call(.get, "/v1/suppressions/?email=\(who)")
                #expect(sup.data.first?["reason"]?.string == "unsubscribed", "\(who)")
                #expect(sup.data.first?["detail"]?.string == "asked in reply", "\(who)")
                let m = try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")
                intents.append(m["intent"]?.string ?? "")
                if who == gone { #expect(m["referrals"]?[0]?["email"]?.string == maria) }
            }
            #expect(intents == ["unsubscribe_request", "referral", "out_of_office"])
            // The hand-over's referred person is enrolled; nobody is held.
            let found = try await h.call(.get, "/v1/contacts/?email=\(maria)")
            #expect(found.data.first?["full_name"]?.string == "Maria Lopez")
            #expect(try await h.enrollments(ofContact: found.data.first?["id"]?.string ?? "").first?["sequence_id"]?.string == referred)
            #expect(try await h.events("enrollment.held").isEmpty)
        }
    }

    // MARK: Out-of-office holds

    /// Enrolled on a Wednesday, a 3-day wait; the notice comes a day later and names Friday 27
    /// November as the return: the hold runs past the weekend to Monday's window (the grace day),
    /// and the step goes the remaining 2 days after it.
    @Test func outOfOfficeHoldsOverAWeekendAndKeepsTheRemainingWait() async throws {
        try await Harness.run { h in
            let inbox = try await Self.berlinInbox(h)
            let buyer = Fixture.address("buyer")
            // Clock: Wed 2026-11-18 11:06:40 UTC; the step is due Sat 21 Nov.
            let enrollment = try await Self.enroll(h, inbox: inbox, address: buyer)
            _ = try await h.advance(seconds: Self.day)
            let r = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: buyer, subject: "Automatic reply: Following up",
                    body: "Thank you for your message. I am out of the office and back on Friday 27 November.\n\nKind regards\nAvery",
                    date: "Thu, 19 Nov 2026 12:06:40 +0100", auto: true))
            #expect(r["classification"]?.string == "auto_reply")
            #expect(r["enrollments"] == .array([.string(enrollment)]))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["state"]?.string == "active")
            #expect(e["hold"]?["return_date"]?.string == "2026-11-27")
            #expect(e["hold"]?["held_until"]?.string == "2026-11-30T08:00:00Z")
            #expect(e["hold"]?["sentence"]?.string?.contains("back on Friday 27 November") == true)
            #expect(e["next_due_at"]?.string == "2026-12-02T08:00:00Z")
            let held = try await h.events("enrollment.held")
            #expect(held.count == 1)
            #expect(held.first?["data"]?["return_date"]?.string == "2026-11-27")
            #expect(held.first?["data"]?["sentence"]?.string == "I am out of the office and back on Friday 27 November.")
            #expect(held.first?["data"]?["held_until"]?.string == "2026-11-30T08:00:00Z")
            let m = try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")
            #expect(m["intent"]?.string == "out_of_office")
            #expect(m["return_date"]?.string == "2026-11-27")

            // Nothing goes on the original due day nor during the hold.
            _ = try await h.advance(seconds: 10 * Self.day + 75_200 - 1)  // Mon 30 Nov 07:59:59 UTC
            #expect(try await h.events("message.sent").isEmpty)
            #expect(try await h.events("enrollment.resumed").isEmpty)
            _ = try await h.advance(seconds: 1)
            let resumedEvents = try await h.events("enrollment.resumed")
            #expect(resumedEvents.count == 1)
            #expect(resumedEvents.first?["data"]?["return_date"]?.string == "2026-11-27")
            #expect(resumedEvents.first?["data"]?["sentence"]?.string == "I am out of the office and back on Friday 27 November.")
            #expect(resumedEvents.first?["data"]?["next_due_at"]?.string == "2026-12-02T08:00:00Z")
            let resumed = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(resumed["hold"] == nil || resumed["hold"] == .null)
            _ = try await h.advance(seconds: 2 * Self.day - 1)
            #expect(try await h.events("message.sent").isEmpty)
            _ = try await h.advance(seconds: 1)
            #expect(try await h.events("message.sent").count == 1)
            #expect(try await h.events("enrollment.resumed").count == 1)
        }
    }

    /// Europe/Berlin leaves summer time on Sunday 31 October 2027: a hold ending on Monday 1
    /// November opens at 09:00 local, now 08:00 UTC (07:00 UTC before the change).
    @Test func holdEndsAtTheWindowsLocalHourAcrossADaylightSavingChange() async throws {
        try await Harness.run { h in
            let inbox = try await Self.berlinInbox(h)
            let buyer = Fixture.address("buyer")
            // To Wed 2027-10-27 08:00 UTC (10:00 CEST).
            _ = try await h.advance(seconds: 29_710_400 - Self.day)
            let enrollment = try await Self.enroll(h, inbox: inbox, address: buyer)
            _ = try await h.advance(seconds: Self.day)
            _ = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: buyer, subject: "Abwesenheitsnotiz: Following up",
                    body:
                        "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich Donnerstag, 28. Oktober, nicht im Büro und ab Freitag, 29. Oktober wieder erreichbar.",
                    date: "Thu, 28 Oct 2027 10:00:00 +0200", auto: true))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["hold"]?["return_date"]?.string == "2027-10-29")
            #expect(e["hold"]?["held_until"]?.string == "2027-11-01T08:00:00Z")
            #expect(e["next_due_at"]?.string == "2027-11-03T08:00:00Z")
            _ = try await h.advance(seconds: 4 * Self.day - 1)  // Mon 1 Nov 07:59:59 UTC
            #expect(try await h.events("enrollment.resumed").isEmpty)
            _ = try await h.advance(seconds: 1)
            #expect(try await h.events("enrollment.resumed").count == 1)
            _ = try await h.advance(seconds: 2 * Self.day)
            #expect(try await h.events("message.sent").count == 1)
        }
    }

    /// The notice's "back tomorrow" is read on the contact's calendar, not the inbox's: sent on
    /// Monday evening in Los Angeles, already Tuesday in Berlin, it names Tuesday 24 November.
    /// The grace day is counted in the contact's zone too, where the dispatcher reads the window.
    @Test func theContactsTimeZoneDecidesTheReturnDay() async throws {
        try await Harness.run { h in
            let inbox = try await Self.berlinInbox(h)
            let buyer = Fixture.address("buyer")
            _ = try await h.contact(buyer, inbox: inbox, extra: #", "timezone": "America/Los_Angeles""#)
            // Wed 18 Nov 11:06:40 UTC, a 7-day wait: due Wed 25 Nov 11:06:40 UTC.
            let enrollment = try await Self.enroll(h, inbox: inbox, address: buyer, days: 7)
            _ = try await h.advance(seconds: 492_800)  // Tue 24 Nov 04:00 UTC: 05:00 in Berlin, Monday 20:00 in Los Angeles
            let r = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: buyer, subject: "Out of Office: Following up",
                    body: "Thanks for your note. I'm out of the office today and back tomorrow.\n\nAvery",
                    date: "Mon, 23 Nov 2026 20:00:00 -0800", auto: true))
            #expect(try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")["return_date"]?.string == "2026-11-24")
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["hold"]?["return_date"]?.string == "2026-11-24")
            // Back Tuesday: the grace day is Wednesday, from the window's 09:00 where it is read, the
            // contact's zone (17:00 UTC); the 1 day 7:06:40 left of the wait follows, inside the window.
            #expect(e["hold"]?["held_until"]?.string == "2026-11-25T17:00:00Z")
            #expect(e["next_due_at"]?.string == "2026-11-27T00:06:40Z")
            let held = try await h.events("enrollment.held")
            #expect(held.first?["data"]?["return_date"]?.string == "2026-11-24")
            #expect(held.first?["data"]?["sentence"]?.string == "I'm out of the office today and back tomorrow.")

            _ = try await h.advance(seconds: 133_200 - 1)  // Wed 25 Nov 16:59:59 UTC
            #expect(try await h.events("enrollment.resumed").isEmpty)
            _ = try await h.advance(seconds: 1)
            let resumed = try await h.events("enrollment.resumed")
            #expect(resumed.count == 1)
            #expect(resumed.first?["data"]?["return_date"]?.string == "2026-11-24")
            #expect(resumed.first?["data"]?["sentence"]?.string == "I'm out of the office today and back tomorrow.")
            _ = try await h.advance(seconds: 112_000 - 1)
            #expect(try await h.events("message.sent").isEmpty)
            _ = try await h.advance(seconds: 1)
            #expect(try await h.events("message.sent").count == 1)
        }
    }

    /// The hold ends on Friday 29 October 2027 at 09:00 in Berlin (07:00 UTC, summer time); the
    /// 3 days left of the wait run over Sunday's change to winter time, so they end on Monday at
    /// 07:00 UTC, now 08:00 local: before the window opens. The step goes at the window's 09:00
    /// local, 08:00 UTC, not at 07:00 UTC as summer time's offset would have it.
    @Test func aDaylightSavingChangeInTheKeptWaitSendsAtTheWindowsLocalHour() async throws {
        try await Harness.run { h in
            let inbox = try await Self.berlinInbox(h)
            let buyer = Fixture.address("buyer")
            _ = try await h.advance(seconds: 29_710_400 - 2 * Self.day)  // Tue 26 Oct 2027 08:00 UTC
            let enrollment = try await Self.enroll(h, inbox: inbox, address: buyer, days: 4)  // due Sat 30 Oct 08:00 UTC
            _ = try await h.advance(seconds: Self.day)
            _ = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: buyer, subject: "Automatic reply: Following up", body: "I am out of the office today and back tomorrow.",
                    date: "Wed, 27 Oct 2027 10:00:00 +0200", auto: true))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["hold"]?["return_date"]?.string == "2027-10-28")
            #expect(e["hold"]?["held_until"]?.string == "2027-10-29T07:00:00Z")
            // Waits are elapsed time, as every step's delay: 3 days after the hold's end.
            #expect(e["next_due_at"]?.string == "2027-11-01T07:00:00Z")
            _ = try await h.advance(seconds: 2 * Self.day - 3_600)  // Fri 29 Oct 07:00 UTC
            #expect(try await h.events("enrollment.resumed").count == 1)
            _ = try await h.advance(seconds: 3 * Self.day)  // Mon 1 Nov 07:00 UTC, 08:00 in Berlin
            #expect(try await h.events("message.sent").isEmpty)
            _ = try await h.advance(seconds: 3_599)
            #expect(try await h.events("message.sent").isEmpty)
            _ = try await h.advance(seconds: 1)  // 09:00 in Berlin
            let sent = try await h.events("message.sent")
            #expect(sent.count == 1)
            #expect(sent.first?["data"]?["enrollment_id"]?.string == enrollment)
        }
    }

    /// Two workers ending holds at once announce each hold once.
    @Test func aHoldsEndIsAnnouncedOnceByConcurrentWorkers() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            var held: [String] = []
            for _ in 0..<30 {
                let who = Fixture.address("away")
                held.append(try await Self.enroll(h, inbox: inbox, address: who))
                _ = try await Self.receive(h, inbox, Self.mail(from: who, subject: "Out of office", body: "I am out of the office.", auto: true))
            }
            #expect(try await h.events("enrollment.held").count == 30)
            // Past the 7 default days without draining, then two releases race.
            _ = h.clock.advance(seconds: 8 * Self.day)
            async let a = HoldRelease(services: h.services).releaseDue()
            async let b = HoldRelease(services: h.services).releaseDue()
            let (x, y) = try await (a, b)
            #expect(x + y == 30)
            let resumed = try await h.events("enrollment.resumed")
            #expect(resumed.count == 30)
            #expect(Set(resumed.compactMap { $0["data"]?["enrollment_id"]?.string }) == Set(held))
            #expect(try await HoldRelease(services: h.services).releaseDue() == 0)
        }
    }

    /// A second notice replaces the hold and keeps the same remaining wait; a step a token's
    /// `resume` makes due at once still waits for the hold's end (the claim skips held rows).
    @Test func aSecondNoticeReplacesTheHoldAndResumeDoesNotSendDuringIt() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let (a, b) = (Fixture.address("a"), Fixture.address("b"))
            // Wed 2026-11-18 11:06:40 UTC; steps due Sat 21 Nov.
            let first = try await Self.enroll(h, inbox: inbox, address: a)
            let second = try await Self.enroll(h, inbox: inbox, address: b)
            _ = try await h.advance(seconds: Self.day)
            for who in [a, b] {
                _ = try await Self.receive(h, inbox, Self.mail(from: who, subject: "Out of office", body: "I am out of the office.", auto: true))
            }
            var e = try await h.call(.get, "/v1/sequences/enrollments/\(first)/")
            #expect(e["hold"]?["held_until"]?.string == "2026-11-26T11:06:40Z")
            #expect(e["next_due_at"]?.string == "2026-11-28T11:06:40Z")
            _ = try await h.advance(seconds: Self.day)
            _ = try await Self.receive(h, inbox, Self.mail(from: a, subject: "Out of office", body: "Still out of the office.", auto: true))
            e = try await h.call(.get, "/v1/sequences/enrollments/\(first)/")
            #expect(e["hold"]?["held_until"]?.string == "2026-11-27T11:06:40Z")
            #expect(e["next_due_at"]?.string == "2026-11-29T11:06:40Z")
            #expect(try await h.events("enrollment.held").count == 3)

            #expect(try await h.call(.patch, "/v1/sequences/enrollments/\(second)/", #"{"action": "pause"}"#).status == 200)
            let resumed = try await h.call(.patch, "/v1/sequences/enrollments/\(second)/", #"{"action": "resume"}"#)
            #expect(resumed["state"]?.string == "active")
            #expect(resumed["hold"]?["held_until"]?.string == "2026-11-26T11:06:40Z")
            _ = try await h.advance(seconds: 3_600)
            #expect(try await h.events("message.sent").isEmpty)
            // Thu 26 Nov 11:06:40: the hold ends and the step, long due, goes.
            _ = try await h.advance(seconds: 6 * Self.day - 3_600 - 1)
            #expect(try await h.events("message.sent").isEmpty)
            _ = try await h.advance(seconds: 1)
            let sent = try await h.events("message.sent")
            #expect(sent.count == 1)
            #expect(sent.first?["data"]?["enrollment_id"]?.string == second)
        }
    }

    @Test func noDateHoldsForTheDefaultDaysAndAHumanReplyStillEndsIt() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let buyer = Fixture.address("buyer")
            let enrollment = try await Self.enroll(h, inbox: inbox, address: buyer, settings: #", "ooo_default_days": 4"#)
            _ = try await h.advance(seconds: Self.day)
            _ = try await Self.receive(
                h, inbox,
                Self.mail(from: buyer, subject: "Out of office", body: "I am currently out of the office with limited access to email.", auto: true))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")
            #expect(e["hold"]?["return_date"] == nil)
            #expect(e["hold"]?["held_until"] != nil)
            let now = try await h.call(.get, "/v1/_clock/")["now"]!.string!
            let heldUntil = RFC3339.parse(e["hold"]?["held_until"]?.string ?? "")
            #expect(heldUntil == RFC3339.parse(now).map { $0.addingTimeInterval(4 * Self.day) })
            // A person's reply during the hold ends the enrollment; the hold's end announces nothing.
            _ = try await Self.receive(h, inbox, Self.mail(from: buyer, subject: "Re: Following up", body: "Back early - yes, interested!"))
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)/")["state"]?.string == "exited")
            _ = try await h.advance(seconds: 10 * Self.day)
            #expect(try await h.events("enrollment.resumed").isEmpty)
            #expect(try await h.events("message.sent").isEmpty)
        }
    }

    @Test func sequenceSettingsExitOrIgnoreAndAreValidated() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let a = Fixture.address("a")
            let b = Fixture.address("b")
            let exiting = try await Self.enroll(h, inbox: inbox, address: a, settings: #", "on_out_of_office": "exit""#)
            let ignoring = try await Self.enroll(h, inbox: inbox, address: b, settings: #", "on_out_of_office": "ignore""#)
            for who in [a, b] {
                _ = try await Self.receive(
                    h, inbox, Self.mail(from: who, subject: "Automatic reply", body: "Out of office until Monday.", auto: true))
            }
            let x = try await h.call(.get, "/v1/sequences/enrollments/\(exiting)/")
            #expect(x["state"]?.string == "exited")
            #expect(x["exit_reason"]?.string == "out_of_office")
            let y = try await h.call(.get, "/v1/sequences/enrollments/\(ignoring)/")
            #expect(y["state"]?.string == "active")
            #expect(y["hold"] == nil || y["hold"] == .null)

            let seq = try await h.call(.get, "/v1/sequences/\(x["sequence_id"]!.string!)/")
            #expect(seq["on_out_of_office"]?.string == "exit")
            #expect(seq["ooo_default_days"]?.number == 7)
            let bad = try await h.call(
                .post, "/v1/sequences/",
                Fixture.sequence(inbox, emails: "[\(Fixture.step(days: 1, subject: "x"))]").replacingOccurrences(
                    of: #""exit_on_reply": true"#, with: #""exit_on_reply": true, "on_out_of_office": "pause""#))
            #expect(bad.status == 422)
            #expect(bad.errorParam == "on_out_of_office")
            let days = try await h.call(.patch, "/v1/sequences/\(seq.id)/", #"{"ooo_default_days": 0}"#)
            #expect(days.status == 422)
            #expect(days.errorParam == "ooo_default_days")
            let ok = try await h.call(.patch, "/v1/sequences/\(seq.id)/", #"{"on_out_of_office": "hold", "ooo_default_days": 10}"#)
            #expect(ok["on_out_of_office"]?.string == "hold")
            #expect(ok["ooo_default_days"]?.number == 10)
        }
    }

    // MARK: Awaiting reply

    @Test func awaitingReplyListsThreadsNudgeSentLastUntilAHumanAnswers() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let (a, b, c) = (Fixture.address("a"), Fixture.address("b"), Fixture.address("c"))
            for who in [a, b, c] { _ = try await Self.enroll(h, inbox: inbox, address: who, days: 1) }
            let before = try await h.call(.get, "/v1/_clock/")["now"]!.string!
            _ = try await h.advance(seconds: Self.day)
            #expect(try await h.events("message.sent").count == 3)
            // b answers; a's out-of-office is no answer.
            _ = try await Self.receive(h, inbox, Self.mail(from: b, subject: "Re: Following up", body: "Thanks, sounds good."))
            _ = try await Self.receive(h, inbox, Self.mail(from: a, subject: "Automatic reply: Following up", body: "I am away.", auto: true))

            let all = try await h.call(.get, "/v1/threads/?awaiting_reply=true&inbox_id=\(inbox)")
            #expect(all.status == 200)
            let contacts = Set(all.data.compactMap { $0["contact_id"]?.string })
            #expect(all.data.count == 2)
            #expect(all.data.allSatisfy { $0["awaiting_reply_since"]?.string != nil })
            let ids = try await [a, c].asyncMap { try await h.call(.get, "/v1/contacts/?email=\($0)").data.first?["id"]?.string }
            #expect(contacts == Set(ids.compactMap { $0 }))
            // Across inboxes, paged with the usual cursor.
            let first = try await h.call(.get, "/v1/threads/?awaiting_reply=true&limit=1")
            #expect(first.data.count == 1)
            let cursor = first["next_cursor"]?.string ?? ""
            let second = try await h.call(.get, "/v1/threads/?awaiting_reply=true&limit=1&cursor=\(cursor)")
            #expect(second.data.count == 1)
            #expect(second.data.first?["id"] != first.data.first?["id"])
            #expect(second["next_cursor"] == nil || second["next_cursor"] == .null)
            // Sent before the sends: none.
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=true&last_sent_before=\(before)").data.isEmpty)

            // Parameters: a 422 naming the field; another organization's inbox is not found.
            #expect(try await h.call(.get, "/v1/threads/").errorParam == "awaiting_reply")
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=yes").errorParam == "awaiting_reply")
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=true&last_sent_before=yesterday").errorParam == "last_sent_before")
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=true&inbox_id=nope").errorParam == "inbox_id")
            let (_, otherAdmin) = try await h.otherOrg()
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=true&inbox_id=\(inbox)", token: otherAdmin).status == 404)
            #expect(try await h.call(.get, "/v1/threads/?awaiting_reply=true", token: otherAdmin).data.isEmpty)
        }
    }

    /// The list is served by the partial indexes at any size: here 20,000 threads, 1% awaiting.
    @Test func awaitingReplyPlanUsesThePartialIndexes() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let org = h.org
            let logger = h.services.logger
            let plans = try await h.services.db.tenant(org, rollback: true) { conn in
                try await conn.query(
                    """
                    INSERT INTO threads (org_id, id, inbox_id, subject, message_count, last_message_at, created_at, awaiting_since)
                    SELECT \(org), 'thr_bulk' || n, \(inbox), 'Subject ' || n, 1, now(), now(),
                      CASE WHEN n % 100 = 0 THEN now() - n * interval '1 minute' END
                    FROM generate_series(1, 20000) AS n
                    """, logger: logger)
                try await conn.query("ANALYZE threads", logger: logger)
                var out: [String] = []
                for inboxID in [nil, inbox] {
                    var q = HistoryStore.awaitingQuery(org: org, inboxID: inboxID, sentBefore: nil, page: PageRequest(limit: 50, before: nil))
                    q.sql = "EXPLAIN " + q.sql
                    out.append(try await conn.query(q, logger: logger).decode(String.self).collect().joined(separator: "\n"))
                }
                return out
            }
            #expect(plans[0].contains("threads_awaiting on threads") || plans[0].contains("threads_awaiting "), "\(plans[0])")
            #expect(plans[1].contains("threads_awaiting_inbox"), "\(plans[1])")
            print("awaiting reply plan (all inboxes):\n\(plans[0])\nawaiting reply plan (one inbox):\n\(plans[1])")
        }
    }

    // MARK: Workflow rules on intents

    /// "On referral, enroll the referred person in sequence X" is one rule; "on interested,
    /// enroll the sender in sequence Y" another.
    @Test func replyIntentRulesEnrollTheReferredPersonOrTheSender() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            func sequence(_ name: String) async throws -> String {
                try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, name: name, emails: "[\(Fixture.step(days: 1, subject: name))]")).id
            }
            let (x, y) = (try await sequence("Referred"), try await sequence("Interested"))
            let rule = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "reply_intent", "intent": "referral"}, "action": {"type": "enroll", "sequence_id": "\#(x)", "target": "referred"}}"#
            )
            #expect(rule.status == 201, "\(rule.body)")
            #expect(rule["trigger"]?["intent"]?.string == "referral")
            #expect(rule["action"]?["target"]?.string == "referred")
            let interested = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "reply_intent", "intent": "interested"}, "action": {"type": "enroll", "sequence_id": "\#(y)"}}"#
            )
            #expect(interested.status == 201)
            #expect(interested["action"]?["target"]?.string == "contact")
            #expect(try await h.call(.get, "/v1/workflow-rules/\(rule.id)/")["trigger"]?["type"]?.string == "reply_intent")

            // Tom has left and names Maria, who is not a contact yet.
            let tom = Fixture.address("tom")
            _ = try await Self.enroll(h, inbox: inbox, address: tom, days: 1)
            let maria = "maria.lopez-\(Fixture.suffix())@example.com"
            let r = try await Self.receive(
                h, inbox,
                Self.mail(
                    from: "Tom <\(tom)>", subject: "Re: Following up",
                    body: "Thanks for reaching out. I have left the company; Maria Lopez (\(maria)) handles this now."))
            #expect(try await h.call(.get, "/v1/messages/\(r["message_id"]!.string!)/")["intent"]?.string == "referral")
            let found = try await h.call(.get, "/v1/contacts/?email=\(maria)")
            #expect(found.data.count == 1)
            #expect(found.data.first?["full_name"]?.string == "Maria Lopez")
            let theirs = try await h.enrollments(ofContact: found.data.first?["id"]?.string ?? "")
            #expect(theirs.count == 1)
            #expect(theirs.first?["sequence_id"]?.string == x)
            #expect(theirs.first?["workflow_rule_id"]?.string == rule.id)
            #expect(theirs.first?["recipient"]?.string == maria)
            _ = try await h.advance(seconds: Self.day)
            let sent = try await h.events("message.sent")
            #expect(sent.contains { $0["data"]?["enrollment_id"]?.string == theirs.first?["id"]?.string })

            // An interested reply enrolls its sender, in the reply's thread.
            let ann = Fixture.address("ann")
            let annContact = try await h.contact(ann, inbox: inbox).id
            let yes = try await Self.receive(
                h, inbox, Self.mail(from: ann, subject: "Re: Offer", body: "This sounds great, please send me more information."))
            let annEnrollments = try await h.enrollments(ofContact: annContact)
            #expect(annEnrollments.count == 1)
            #expect(annEnrollments.first?["sequence_id"]?.string == y)
            #expect(annEnrollments.first?["thread_id"] == yes["thread_id"])

            // A stranger's referral enrolls nobody.
            let stranger = "someone-\(Fixture.suffix())@example.net"
            let other = "other-\(Fixture.suffix())@example.com"
            _ = try await Self.receive(
                h, inbox, Self.mail(from: stranger, subject: "Hi", body: "I have left the company; please contact Jo Bloggs (\(other)) instead."))
            #expect(try await h.call(.get, "/v1/contacts/?email=\(other)").data.isEmpty)

            // Validation names the field.
            func create(_ trigger: String, _ action: String) async throws -> Reply {
                try await h.call(.post, "/v1/workflow-rules/", #"{"inbox_id": "\#(inbox)", "trigger": \#(trigger), "action": \#(action)}"#)
            }
            let enroll = #"{"type": "enroll", "sequence_id": "\#(x)"}"#
            #expect(try await create(#"{"type": "reply_intent", "intent": "happy"}"#, enroll).errorParam == "trigger.intent")
            #expect(try await create(#"{"type": "reply_intent"}"#, enroll).errorParam == "trigger.intent")
            #expect(try await create(#"{"type": "when"}"#, enroll).errorParam == "trigger.type")
            #expect(
                try await create(
                    #"{"type": "reply_intent", "intent": "interested"}"#, #"{"type": "enroll", "sequence_id": "\#(x)", "target": "referred"}"#
                )
                .errorParam == "action.target")
            #expect(
                try await create(#"{"type": "label_added", "label": "lead"}"#, #"{"type": "enroll", "sequence_id": "\#(x)", "target": "someone"}"#)
                    .errorParam == "action.target")
        }
    }

    // MARK: The LLM's second opinion

    @Test func llmLabelsWhatTheRulesCannotAndNeverTouchesAnUnsubscribe() async throws {
        let llm = try await ScriptedLLM.start()
        defer { llm.stop() }
        try await Harness.run(llm: LLMTests.settings(llm, attempts: 1)) { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: "[\(Fixture.step(days: 1, subject: "Next"))]")).id
            let rule = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "reply_intent", "intent": "interested"}, "action": {"type": "enroll", "sequence_id": "\#(seq)"}}"#
            )
            #expect(rule.status == 201)
            let ann = Fixture.address("ann")
            let annContact = try await h.contact(ann, inbox: inbox).id
            llm.scriptIntent(.json(#"{"intent": "interested", "confidence": 0.8, "reason": "Agrees to go ahead."}"#))
            let r = try await Self.receive(h, inbox, Self.mail(from: ann, subject: "Re: Offer", body: "Noted."))
            let id = r["message_id"]!.string!
            let before = try await h.call(.get, "/v1/messages/\(id)/")
            #expect(before["intent"]?.string == "other")
            #expect(before["intent_source"]?.string == "rules")
            _ = try await h.advance(seconds: 0)
            let after = try await h.call(.get, "/v1/messages/\(id)/")
            #expect(after["intent"]?.string == "interested")
            #expect(after["intent_source"]?.string == "llm")
            #expect(after["intent_confidence"]?.number == 0.8)
            // The reply reached the model as quoted data, and the rule ran on the model's label.
            #expect(llm.intentReceived.count == 1)
            #expect(llm.intentUserMessage(0).contains("<<<DATA\nNoted.\nDATA>>>"))
            #expect(try await h.enrollments(ofContact: annContact).first?["sequence_id"]?.string == seq)

            // A rule's unsubscribe is never sent for a second opinion and stays.
            let bob = Fixture.address("bob")
            _ = try await h.contact(bob, inbox: inbox)
            let u = try await Self.receive(h, inbox, Self.mail(from: bob, subject: "Re: Offer", body: "Please remove me from your mailing list."))
            _ = try await h.advance(seconds: 0)
            #expect(llm.intentReceived.count == 1)
            #expect(try await h.call(.get, "/v1/messages/\(u["message_id"]!.string!)/")["intent_source"]?.string == "rules")
            #expect(try await h.call(.get, "/v1/suppressions/?email=\(bob)").data.first?["reason"]?.string == "unsubscribed")

            // An answer outside the labels is not applied; after a few tries the rules' label stays.
            llm.setIntentFallback(.json(#"{"intent": "wire_the_money", "confidence": 1, "reason": "The reply says so."}"#))
            let carl = Fixture.address("carl")
            _ = try await h.contact(carl, inbox: inbox)
            let c = try await Self.receive(h, inbox, Self.mail(from: carl, subject: "Re: Offer", body: "Noted."))
            for wait in [0.0, 30, 60, 120, 240] { _ = try await h.advance(seconds: wait) }
            #expect(llm.intentReceived.count == 1 + IntentReviewer.maxAttempts)
            let m = try await h.call(.get, "/v1/messages/\(c["message_id"]!.string!)/")
            #expect(m["intent"]?.string == "other")
            #expect(m["intent_source"]?.string == "rules")
        }
    }

    /// The model relabels a reply the rules left as `other` to `referral`: the people come from
    /// the reply's text (the model names no one), are stored, and the referral rule enrolls them.
    @Test func anLLMReferralTakesThePeopleTheReplyNames() async throws {
        let llm = try await ScriptedLLM.start()
        defer { llm.stop() }
        try await Harness.run(llm: LLMTests.settings(llm, attempts: 1)) { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: "[\(Fixture.step(days: 1, subject: "Hi"))]")).id
            let rule = try await h.call(
                .post, "/v1/workflow-rules/",
                #"{"inbox_id": "\#(inbox)", "trigger": {"type": "reply_intent", "intent": "referral"}, "action": {"type": "enroll", "sequence_id": "\#(seq)", "target": "referred"}}"#
            )
            #expect(rule.status == 201)
            let tom = Fixture.address("tom")
            _ = try await h.contact(tom, inbox: inbox)
            let maria = "maria.lopez-\(Fixture.suffix())@example.com"
            llm.scriptIntent(.json(#"{"intent": "referral", "confidence": 0.85, "reason": "Points to Maria Lopez."}"#))
            // No hand-over phrase the rules know: they say `other`.
            let r = try await Self.receive(
                h, inbox,
                Self.mail(from: tom, subject: "Re: Offer", body: "Noted, thanks. Maria Lopez (\(maria)) runs purchasing now.\n\nBest,\nTom"))
            let id = r["message_id"]!.string!
            #expect(try await h.call(.get, "/v1/messages/\(id)/")["intent"]?.string == "other")
            _ = try await h.advance(seconds: 0)
            let m = try await h.call(.get, "/v1/messages/\(id)/")
            #expect(m["intent"]?.string == "referral")
            #expect(m["intent_source"]?.string == "llm")
            #expect(m["referrals"]?.items.count == 1)
            #expect(m["referrals"]?[0]?["email"]?.string == maria)
            #expect(m["referrals"]?[0]?["name"]?.string == "Maria Lopez")
            let found = try await h.call(.get, "/v1/contacts/?email=\(maria)")
            #expect(found.data.first?["full_name"]?.string == "Maria Lopez")
            let theirs = try await h.enrollments(ofContact: found.data.first?["id"]?.string ?? "")
            #expect(theirs.first?["sequence_id"]?.string == seq)
            #expect(theirs.first?["workflow_rule_id"]?.string == rule.id)
        }
    }
}
