import Foundation
import NudgeMIME
import NudgeSMTP
import NudgeTestSupport
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// What anyone who can mail an inbox, or an SMTP server having a bad day, must not be able to do:
/// fail enrollments with a malformed Message-ID, suppress any address with a forged bounce or
/// complaint, or suppress every recipient of a batch with a server error.
@Suite struct HardeningTests {
    static let day: Double = 86_400

    // MARK: Malformed Message-IDs in received mail

    /// Ids from real and hostile mailers. A domain literal is valid RFC 5322 (`id-right =
    /// no-fold-literal`), so it is sent; the others are kept for matching but never sent.
    static let receivedIDs: [(id: String, sendable: Bool)] = [
        ("no-at-sign-here", false),
        ("weird.id@[10.0.0.1]", true),
        (String(repeating: "x", count: 1_000) + "@example.com", false),
        ("über-\(UUID().uuidString)@exämple.com", false),
        ("two@at@signs.example", false),
        ("spaced..dots@example.com", false),
    ]

    @Test(arguments: receivedIDs.indices)
    func malformedMessageIDInTheThreadNeverFailsTheNextStep(_ n: Int) async throws {
        let (id, sendable) = Self.receivedIDs[n]
        try await Harness.withSMTP { h, smtp in
            // The auto-reply below is an absence notice: this sequence ignores those
            // (`on_out_of_office`), so the next step goes when planned.
            let ignoring = BriefBodies.sequence(try await h.inbox()).replacingOccurrences(
                of: #""exit_on_reply": true,"#, with: #""exit_on_reply": true, "on_out_of_office": "ignore","#)
            let (inbox, enrollment, thread) = try await DispatchTests.setUp(h, sequence: ignoring)
            let sourceID = try await h.call(.get, "/v1/threads/\(thread)/")["messages"]?[0]?["rfc822_message_id"]?.string ?? ""
            _ = try await h.advance(seconds: 60)
            // An auto-reply (it does not stop the sequence) becomes the thread's newest message.
            let autoReply = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    """
                    From: Avery Chen <buyer@example.com>\r
                    To: sales@acme.test\r
                    Subject: Automatic reply: Proposal for review\r
                    Auto-Submitted: auto-replied\r
                    In-Reply-To: <\(sourceID)>\r
                    References: <\(sourceID)> <\(id)> <\(sourceID)>\r
                    Message-ID: <\(id)>\r
                    \r
                    I am out of the office until Monday.\r

                    """.utf8))
            #expect(autoReply.status == 202, "\(autoReply.body)")
            #expect(autoReply["classification"]?.string == "auto_reply")
            #expect(autoReply["thread_id"]?.string == thread)
            // Kept as received (up to the stored length), for matching later replies.
            let stored = try await h.call(.get, "/v1/messages/\(autoReply["message_id"]?.string ?? "")/")
            #expect(stored["rfc822_message_id"]?.string == id.storedMessageID)

            _ = try await h.advance(seconds: 2 * Self.day)
            let got = try smtp.received()
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            try #require(got.count == 1, "the step was not sent: \(e.body)")
            #expect(e["state"]?.string == "active", "\(e.body)")
            #expect(e["timeline"]?[0]?["outcome"]?.string == "sent")
            let sent = try await PythonEmail.parse(file: got[0].path)
            let parent = sendable ? id : sourceID
            #expect(sent["in_reply_to"] as? String == "<\(parent)>")
            let references = (sent["references"] as? String ?? "").split(separator: " ").map(String.init)
            #expect(references.last == "<\(parent)>")
            #expect(references.filter { $0 == "<\(sourceID)>" }.count == 1, "each id once: \(references)")
            if !sendable { #expect(!references.contains("<\(id)>")) }
            #expect(sent["defects"] as? [String] == [], "\(sent["defects"] ?? "")")
        }
    }

    /// A received subject copied by `{{source.subject}}` is someone else's text: CR/LF inside
    /// an encoded-word, control characters and 3,000 characters become one sendable line.
    @Test func receivedSubjectCopiedIntoASubjectIsOneBoundedLine() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let nasty = "Line one\r\nBcc: everyone@example.com\u{07}\u{202E}" + String(repeating: "long ", count: 600)
            // Encoded-words of at most 75 characters (RFC 2047), as a mailer writes them.
            let bytes = Array(nasty.utf8)
            let encoded = stride(from: 0, to: bytes.count, by: 45).map {
                "=?utf-8?B?\(Data(bytes[$0..<min($0 + 45, bytes.count)]).base64EncodedString())?="
            }.joined(separator: "\r\n ")
            let source = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    "From: Avery Chen <buyer@example.com>\r\nTo: sales@acme.test\r\nSubject: \(encoded)\r\nMessage-ID: <subj-\(UUID().uuidString)@example.com>\r\n\r\nHello\r\n"
                        .utf8))
            #expect(source.status == 202)
            let e = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "recipient": {"email": "buyer@example.com"},
                 "source": {"type": "email", "message_id": "\(source["message_id"]?.string ?? "")"},
                 "emails": [{"delay_days": 0, "subject": "Re: {{source.subject}}", "body": "Following up."}]}
                """)
            #expect(e.status == 201, "\(e.body)")
            _ = try await h.advance(seconds: 1)
            let got = try smtp.received()
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")
            try #require(got.count == 1, "\(after.body)")
            let subject = try await PythonEmail.parse(file: got[0].path)["subject"] as? String ?? ""
            #expect(subject.hasPrefix("Re: Line one"))
            #expect(!subject.contains("\r") && !subject.contains("\n") && !subject.contains("\u{07}") && !subject.contains("\u{202E}"))
            #expect(subject.unicodeScalars.count <= Composer.maxSubjectLength)
            #expect(!WireFormat.headerLines(got[0].raw).contains { $0.lowercased().hasPrefix("bcc:") })
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")["state"]?.string == "completed")
        }
    }

    // MARK: Forged bounces and complaints

    /// A delivery status notification naming `recipient`; with `originalID`, the returned
    /// headers name the message that bounced.
    static func dsn(
        recipient: String, originalID: String? = nil, status: String = "5.1.1",
        from: String = "MAILER-DAEMON@attacker.test"
    ) -> [UInt8] {
        let headers =
            originalID.map {
                """
                --B\r
                Content-Type: text/rfc822-headers\r
                \r
                From: Acme Sales <sales@acme.test>\r
                To: \(recipient)\r
                Subject: Following up on the proposal\r
                Message-ID: <\($0)>\r
                \r

                """
            } ?? ""
        return Array(
            """
            From: Mail Delivery System <\(from)>\r
            To: sales@acme.test\r
            Subject: Undelivered Mail Returned to Sender\r
            Message-ID: <dsn-\(UUID().uuidString)@attacker.test>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
            \r
            --B\r
            Content-Type: text/plain\r
            \r
            Your message could not be delivered.\r
            --B\r
            Content-Type: message/delivery-status\r
            \r
            Reporting-MTA: dns; mx.attacker.test\r
            \r
            Final-Recipient: rfc822; \(recipient)\r
            Action: failed\r
            Status: \(status)\r
            Diagnostic-Code: smtp; 550 \(status) user unknown\r
            \r
            \(headers)--B--\r

            """.utf8)
    }

    /// An ARF (RFC 5965) abuse report about `recipient`.
    static func complaint(recipient: String, originalID: String? = nil) -> [UInt8] {
        Array(
            """
            From: Feedback Loop <fbl@attacker.test>\r
            To: sales@acme.test\r
            Subject: Abuse report\r
            Message-ID: <arf-\(UUID().uuidString)@attacker.test>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r
            \r
            --B\r
            Content-Type: text/plain\r
            \r
            This is an abuse report.\r
            --B\r
            Content-Type: message/feedback-report\r
            \r
            Feedback-Type: abuse\r
            User-Agent: fbl/1.0\r
            Version: 1\r
            Original-Rcpt-To: \(recipient)\r
            \r
            --B\r
            Content-Type: text/rfc822-headers\r
            \r
            From: Acme Sales <sales@acme.test>\r
            To: \(recipient)\r
            Subject: Following up on the proposal\r
            Message-ID: <\(originalID ?? "unknown-\(UUID().uuidString)@attacker.test")>\r
            \r
            --B--\r

            """.utf8)
    }

    static func events(_ h: Harness, _ type: String) async throws -> [JSONValue] {
        guard case .array(let list)? = try await h.call(.get, "/v1/events/?type=\(type)&limit=100")["data"] else { return [] }
        return list.compactMap { $0["data"] }
    }

    static func enrollOne(_ h: Harness, _ inbox: String, _ address: String, delayDays: Double = 0) async throws -> String {
        let r = try await h.call(
            .post, "/v1/sequences/enrollments/",
            """
            {"inbox_id": "\(inbox)", "recipient": {"email": "\(address)"},
             "emails": [{"delay_days": \(delayDays), "subject": "Hi", "body": "Hello"}, {"delay_days": 60, "subject": "Again", "body": "Hello again"}]}
            """)
        try #require(r.status == 201, "\(r.body)")
        return r.id
    }

    /// Finding 4: a report about an address Nudge never mailed is stored and announced with
    /// `matched: false`, and changes nothing.
    @Test func forgedBounceAndComplaintForAnAddressNeverMailedChangeNothing() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let victim = "victim@client.test"
            let enrollment = try await Self.enrollOne(h, inbox, victim, delayDays: 2)

            let bounce = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Self.dsn(recipient: victim))
            #expect(bounce.status == 202)
            #expect(bounce["classification"]?.string == "bounce")
            #expect(bounce["enrollments"] == .array([]))
            let complaint = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Self.complaint(recipient: victim))
            #expect(complaint.status == 202)
            #expect(complaint["classification"]?.string == "complaint")
            #expect(complaint["enrollments"] == .array([]))

            #expect(try await h.call(.get, "/v1/suppressions/?email=\(victim)")["data"] == .array([]))
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")["state"]?.string == "active")
            let bounced = try await Self.events(h, "message.bounced")
            #expect(bounced.count == 1)
            #expect(bounced.first?["matched"] == .bool(false))
            #expect(bounced.first?["permanent"] == .bool(true))
            #expect(bounced.first?["recipients"]?[0]?["matched"] == .bool(false))
            let complained = try await Self.events(h, "message.complained")
            #expect(complained.count == 1)
            #expect(complained.first?["matched"] == .bool(false))
            #expect(try await Self.events(h, "suppression.created").isEmpty)
            // Stored with what was found and that it matched nothing.
            let stored = try await h.call(.get, "/v1/messages/\(bounce["message_id"]?.string ?? "")/")
            #expect(stored["details"]?["bounce"]?["matched"] == .bool(false))
        }
    }

    /// A report naming a message Nudge sent to that recipient acts, by its original Message-ID or
    /// by a send to that exact address from this inbox within the window; a send older than the
    /// window, another inbox's send, or an id Nudge sent to someone else does not.
    @Test func bounceOrComplaintMatchingWhatNudgeSentActs() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let other = try await h.inbox()
            let byID = "by-id@client.test"
            let byWindow = "by-window@client.test"
            let stale = "stale@client.test"
            let complainer = "complainer@client.test"
            let elsewhere = "elsewhere@client.test"
            let aimed = "aimed@client.test"
            let staleEnrollment = try await Self.enrollOne(h, inbox, stale)
            _ = try await h.advance(seconds: 1)
            _ = try await h.advance(seconds: 31 * Self.day)  // the stale send is now 31 days old
            var ids: [String: String] = [:]
            for a in [byID, byWindow, complainer, aimed] { _ = try await Self.enrollOne(h, inbox, a) }
            _ = try await Self.enrollOne(h, other, elsewhere)
            _ = try await h.advance(seconds: 1)
            for r in try smtp.received() {
                ids[r.rcptTos[0]] = (try await PythonEmail.parse(file: r.path)["message_id"] as? String)?.trimmingCharacters(in: ["<", ">"])
            }
            #expect(ids.count == 6)

            func post(_ raw: [UInt8], into box: String = inbox) async throws -> Reply {
                let r = try await h.call(.post, "/v1/inboxes/\(box)/messages/inbound/", raw: raw)
                #expect(r.status == 202, "\(r.body)")
                return r
            }
            func suppressed(_ a: String) async throws -> Bool {
                try await h.call(.get, "/v1/suppressions/?email=\(a)")["data"]?[0] != nil
            }
            _ = try await post(Self.dsn(recipient: byID, originalID: ids[byID]))
            _ = try await post(Self.dsn(recipient: byWindow))
            _ = try await post(Self.dsn(recipient: stale))
            _ = try await post(Self.dsn(recipient: elsewhere))  // sent from the other inbox
            _ = try await post(Self.dsn(recipient: "stranger@client.test", originalID: ids[aimed]))  // our id, another recipient
            _ = try await post(Self.complaint(recipient: complainer, originalID: ids[complainer]))
            #expect(try await suppressed(byID))
            #expect(try await suppressed(byWindow))
            #expect(try await suppressed(complainer))
            #expect(try await !suppressed(stale))
            #expect(try await !suppressed(elsewhere))
            #expect(try await !suppressed("stranger@client.test"))
            #expect(try await !suppressed(aimed))
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(staleEnrollment)")["state"]?.string == "active")
            let matched = try await Self.events(h, "message.bounced").map { $0["matched"] }
            #expect(matched == [.bool(true), .bool(true), .bool(false), .bool(false), .bool(false)])
            #expect(try await Self.events(h, "message.complained").map { $0["matched"] } == [.bool(true)])
        }
    }

    /// The corpus's real DSNs and complaints, each into an inbox of its own: with a send to the
    /// addresses it names they suppress them, as before; without one they suppress nothing.
    @Test func corpusReportsActOnlyAfterASendToTheAddress() async throws {
        let rows = try InboundTests.manifest().filter { $0.cls == "dsn" || $0.cls == "complaint" }
        try await Harness.run { h in
            var acting = 0
            var actingAfterSend = 0
            var actingWithoutSend = 0
            for row in rows {
                let raw = Array(try Data(contentsOf: InboundTests.corpus.appendingPathComponent(row.file)))
                let parsed = InboundMessage.analyze(raw)
                let named =
                    row.cls == "dsn"
                    ? (parsed.bounce?.recipients ?? []).filter(\.permanent).map(\.address)
                    : parsed.complaint?.complainedAddresses ?? []
                let addresses = Set(named.compactMap { try? Mailbox.validate($0).get() }.map(Mailbox.key))
                guard !addresses.isEmpty else { continue }
                acting += 1
                // Without a send: nothing happens.
                let cold = try await h.inbox()
                _ = try await h.call(.post, "/v1/inboxes/\(cold)/messages/inbound/", raw: raw)
                var any = false
                for a in addresses where try await h.call(.get, "/v1/suppressions/?email=\(a)")["data"]?[0] != nil { any = true }
                if any { actingWithoutSend += 1 }
                // After Nudge sent to each address from the inbox.
                let warm = try await h.inbox()
                for a in addresses { _ = try await Self.enrollOne(h, warm, a) }
                _ = try await h.advance(seconds: 1)
                _ = try await h.call(.post, "/v1/inboxes/\(warm)/messages/inbound/", raw: raw)
                var all = true
                for a in addresses where try await h.call(.get, "/v1/suppressions/?email=\(a)")["data"]?[0] == nil { all = false }
                if all { actingAfterSend += 1 } else { print("corpus report not acting after a send: \(row.file)") }
                // The next report starts from a clean list.
                try await h.services.db.system { conn in
                    try await conn.query("DELETE FROM suppressions WHERE org_id = \(h.org)", logger: h.services.logger)
                }
            }
            print(
                "corpus reports naming a permanent, valid address: \(acting); suppressing after a send: \(actingAfterSend); without a send: \(actingWithoutSend)"
            )
            #expect(acting > 300)
            #expect(actingAfterSend == acting)
            #expect(actingWithoutSend == 0)
        }
    }

    // MARK: SMTP errors that are not about the recipient

    static func enrollMany(_ h: Harness, _ prefix: String, _ n: Int) async throws -> (inbox: String, enrollments: [String]) {
        let inbox = try await h.inbox()
        var ids: [String] = []
        for i in 0..<n { ids.append(try await enrollOne(h, inbox, "\(prefix)\(i)@example.com")) }
        return (inbox, ids)
    }

    static func state(_ h: Harness, _ id: String) async throws -> Reply {
        try await h.call(.get, "/v1/sequences/enrollments/\(id)")
    }

    /// Finding 10: "500 internal error" after the message data is the server's trouble, not the
    /// recipient's: the step fails, nothing is suppressed, and after a burst (3) sending from that
    /// transport pauses (5 minutes) until a probe gets through.
    @Test func serverErrorAtDataFailsTheStepWithoutSuppressingAndABurstPausesSending() async throws {
        try await Harness.withSMTP(lanes: 1, configure: { $0.smtpLanes = 1 }) { h, smtp in
            let (_, enrollments) = try await Self.enrollMany(h, "burst", 6)
            try smtp.script(.data, reply: "500 internal error")
            _ = try await h.advance(seconds: 1)
            #expect(try smtp.received().isEmpty)
            #expect(try await h.call(.get, "/v1/suppressions/")["data"] == .array([]))
            var failed: [String] = []
            var waiting: [String] = []
            for id in enrollments {
                let e = try await Self.state(h, id)
                if e["state"]?.string == "failed" {
                    failed.append(id)
                    #expect(e["exit_detail"]?.string?.contains("500 internal error") == true, "\(e.body)")
                    #expect(e["timeline"]?[0]?["outcome"]?.string == "failed", "\(e.body)")
                } else {
                    #expect(e["state"]?.string == "active", "\(e.body)")
                    #expect(e["timeline"]?[0]?["outcome"]?.string != "failed", "\(e.body)")
                    waiting.append(id)
                }
            }
            #expect(failed.count == SendCircuit.Policy.standard.burst, "the burst that opened the circuit")
            #expect(waiting.count == 6 - failed.count)
            #expect(try await Self.events(h, "suppression.created").isEmpty)

            // Paused: the server is not asked again before the pause ends.
            let connections = try smtp.connectionCount()
            try smtp.script(.data, reply: nil)
            _ = try await h.advance(seconds: 60)
            #expect(try smtp.connectionCount() == connections)
            #expect(try smtp.received().isEmpty)
            // Then a probe goes through, and the rest with it.
            _ = try await h.advance(seconds: SendCircuit.Policy.standard.pause)
            #expect(try smtp.received().count == waiting.count)
            for id in waiting { #expect(try await Self.state(h, id)["next_step"]?.number == 1) }
        }
    }

    /// Only the recipient's own permanent failures suppress: 550 5.1.1 at RCPT TO and a data
    /// reply naming the mailbox (554 5.2.2); 554 5.6.0 (content) fails the step only.
    @Test func onlyRecipientLevelFailuresSuppress() async throws {
        try await Harness.withSMTP(lanes: 1) { h, smtp in
            let inbox = try await h.inbox()
            let unknown = try await Self.enrollOne(h, inbox, "fail5xx+unknown@example.com")
            let full = try await Self.enrollOne(h, inbox, "fullbox+full@example.com")
            let content = try await Self.enrollOne(h, inbox, "faildata+content@example.com")
            _ = try await h.advance(seconds: 1)
            #expect(try smtp.received().isEmpty)
            for (id, address) in [(unknown, "fail5xx%2Bunknown@example.com"), (full, "fullbox%2Bfull@example.com")] {
                let e = try await Self.state(h, id)
                #expect(e["state"]?.string == "exited", "\(e.body)")
                #expect(e["exit_reason"]?.string == "bounced")
                #expect(try await h.call(.get, "/v1/suppressions/?email=\(address)")["data"]?[0]?["reason"]?.string == "bounced")
            }
            let e = try await Self.state(h, content)
            #expect(e["state"]?.string == "failed", "\(e.body)")
            #expect(e["exit_detail"]?.string?.contains("5.6.0") == true, "\(e.body)")
            #expect(try await h.call(.get, "/v1/suppressions/?email=faildata%2Bcontent@example.com")["data"] == .array([]))
        }
    }
}

extension HardeningTests {
    /// A Message-ID of 900 characters that are 3 bytes each (and one of grapheme clusters of
    /// many scalars) is longer than an index entry may be: it must be stored, not answered 500.
    static var incompressible: String {
        var g = SystemRandomNumberGenerator()
        return String(String.UnicodeScalarView((0..<900).map { _ in Unicode.Scalar(UInt32.random(in: 0x4E00...0x9FFF, using: &g))! }))
    }

    @Test(arguments: [incompressible, String(repeating: "👩‍👩‍👧‍👦", count: 900)])
    func longNonASCIIMessageIDIsStored(_ left: String) async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let id = left + "@example.com"
            let raw = Array(
                "From: a@example.com\r\nTo: sales@acme.test\r\nSubject: Hi\r\nIn-Reply-To: <\(id)>\r\nMessage-ID: <\(id)>\r\n\r\nHello\r\n".utf8)
            let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
            #expect(r.status == 202, "\(r.body)")
            let again = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
            #expect(again.status == 200, "\(again.body)")
            #expect(again["message_id"] == r["message_id"])
        }
    }
}
