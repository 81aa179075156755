import Foundation
import NudgeCore
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Connected mailboxes end to end (README, "Connected mailboxes"): an inbox sends through its own
/// SMTP account (aiosmtpd with AUTH and STARTTLS) and reads replies from its own IMAP account (a
/// private Dovecot). No inbound HTTP call anywhere: replies are delivered into the mailbox.
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct MailboxTests {
    // No colon: Dovecot's passwd-file separates its fields with colons.
    static let imapPassword = "imap pass/with odd@chars!"

    /// The relay, the account's SMTP server and Dovecot, with one CA file trusting both test certificates.
    static func withMailbox(
        _ body: @Sendable (Harness, _ account: TestSMTPServer, TestIMAPServer) async throws -> Void
    ) async throws {
        SecretLedger.record(imapPassword)
        SecretLedger.record(ConnectedAccountTests.password)
        let dovecot = try await TestIMAPServer(users: ["testuser": imapPassword, "other": imapPassword])
        let certificate = try await TestCertificate()
        defer { certificate.remove() }
        let account = try await TestSMTPServer(auth: "sales@acme.test:\(ConnectedAccountTests.password)", tls: .starttls(certificate))
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("nudge-ca-\(UUID().uuidString).pem").path
        let pems =
            try String(contentsOfFile: certificate.certPath, encoding: .utf8) + String(contentsOfFile: dovecot.certificate.certPath, encoding: .utf8)
        try pems.write(toFile: bundle, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try await Harness.withSMTP(configure: {
            $0.allowPrivateMailHosts = true
            $0.mailCAFile = bundle
            // One kept connection: a second mailbox logs the first out (the bound on connections).
            $0.imapKeptSessions = 1
        }) { h, _ in
            try await body(h, account, dovecot)
        }
    }

    static func imapJSON(_ dovecot: TestIMAPServer, user: String = "testuser", password: String = MailboxTests.imapPassword, extra: String = "")
        -> String
    {
        #"{"host": "localhost", "port": \#(dovecot.imapPort), "security": "starttls", "username": "\#(user)", "password": "\#(password)", "poll_interval_seconds": 10\#(extra)}"#
    }

    /// An inbox with both accounts.
    static func connectedInbox(_ h: Harness, _ account: TestSMTPServer, _ dovecot: TestIMAPServer) async throws -> String {
        try await h.inbox(
            "sales-\(Fixture.suffix())@acme.test",
            extra: #", "smtp": \#(ConnectedAccountTests.smtpJSON(port: account.port)), "imap": \#(imapJSON(dovecot))"#)
    }

    /// A person's reply to `messageID`, as their mail client would write it.
    static func reply(from: String, to inbox: String, inReplyTo messageID: String, body: String = "Thanks, I'm interested.", headers: String = "")
        -> [UInt8]
    {
        Array(
            """
            From: Avery Chen <\(from)>\r
            To: \(inbox)\r
            Subject: Re: Hello\r
            Date: Mon, 7 Dec 2026 10:00:00 +0000\r
            Message-ID: <reply-\(UUID().uuidString)@example.com>\r
            In-Reply-To: \(messageID)\r
            References: \(messageID)\r
            \(headers)MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            \(body)\r

            """.utf8)
    }

    static func messageID(_ raw: [UInt8]) -> String? {
        String(decoding: raw, as: UTF8.self).split(separator: "\r\n").first { $0.lowercased().hasPrefix("message-id:") }
            .map { $0.dropFirst("Message-ID:".count).trimmingCharacters(in: .whitespaces) }
    }

    static func twoSteps() -> String { "[\(Fixture.step(days: 0, subject: "Hello")), \(Fixture.step(days: 2, subject: "Again"))]" }

    @Test func aReplyInTheMailboxStopsTheSequenceAndStepTwoNeverGoes() async throws {
        try await Self.withMailbox { h, account, dovecot in
            let inbox = try await Self.connectedInbox(h, account, dovecot)
            let shown = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(shown["imap"]?["password_set"]?.bool == true && shown["imap"]?["folder"]?.string == "INBOX")
            #expect(!shown.body.contains(Self.imapPassword))
            // Mail already in the mailbox at connection time is not read (no backfill asked).
            try await dovecot.deliver(raw: Self.reply(from: "old@example.com", to: "sales@acme.test", inReplyTo: "<old@example.com>"))
            let human = "person-\(Fixture.suffix())@example.com"
            let enrolled = try await h.enrollAdHoc(inbox: inbox, email: human, steps: Self.twoSteps())
            try #require(enrolled.status == 201, "\(enrolled.body)")
            _ = try await h.advance(seconds: 1)
            let sent = try account.received()
            try #require(sent.count == 1)
            let stepOne = try #require(Self.messageID(sent[0].raw))
            #expect(try await h.call(.get, "/v1/inboxes/\(inbox)/")["connection"]?["imap_status"]?.string == "ok")

            try await dovecot.deliver(raw: Self.reply(from: human, to: "sales@acme.test", inReplyTo: stepOne))
            _ = try await h.advance(seconds: 10)
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrolled.id)/")
            #expect(e["state"]?.string == "exited", "\(e.body)")
            #expect(e["exit_reason"]?.string == "replied")
            _ = try await h.advance(seconds: 3 * 86_400)
            #expect(try account.received().count == 1, "step 2 is never sent")
            // The old message was never processed: one inbound message in the thread, the reply.
            let received = try await h.events("message.received")
            #expect(received.count == 1)
            // Nothing was marked read or deleted in the person's mailbox.
            #expect(try await dovecot.flags().values.allSatisfy { !$0.contains("\\Seen") && !$0.contains("\\Deleted") })
            // The console shows both accounts and how they do.
            let (cookie, _) = try await ConsoleTests.signIn(h, h.admin)
            let page = try await ConsoleTests.get(h, "/console/inboxes", cookie: cookie)
            #expect(page.body.contains("SMTP sales@acme.test at localhost:\(account.port) (starttls)"), "\(page.body)")
            #expect(page.body.contains("SMTP ok") && page.body.contains("IMAP ok"))
            #expect(!page.body.contains(Self.imapPassword))
        }
    }

    @Test func anOutOfOfficeDoesNotStopAndABounceSuppresses() async throws {
        try await Self.withMailbox { h, account, dovecot in
            let inbox = try await Self.connectedInbox(h, account, dovecot)
            let away = "away-\(Fixture.suffix())@example.com"
            let gone = "gone-\(Fixture.suffix())@example.com"
            let first = try await h.enrollAdHoc(inbox: inbox, email: away, steps: Self.twoSteps())
            let second = try await h.enrollAdHoc(inbox: inbox, email: gone, steps: Self.twoSteps())
            _ = try await h.advance(seconds: 1)
            let sent = try account.received()
            try #require(sent.count == 2)
            let awayMessage = try #require(sent.first { $0.rcptTos == [away] })
            let goneMessage = try #require(sent.first { $0.rcptTos == [gone] })
            let toAway = try #require(Self.messageID(awayMessage.raw))
            let toGone = try #require(Self.messageID(goneMessage.raw))
            try await dovecot.deliver(
                raw: Self.reply(
                    from: away, to: "sales@acme.test", inReplyTo: toAway, body: "I am out of the office and will reply when I am back.",
                    headers: "Auto-Submitted: auto-replied\r\n"))
            try await dovecot.deliver(
                raw: HardeningTests.dsn(recipient: gone, originalID: String(toGone.dropFirst().dropLast()), from: "MAILER-DAEMON@mx.example.com"))
            _ = try await h.advance(seconds: 10)
            let a = try await h.call(.get, "/v1/sequences/enrollments/\(first.id)/")
            #expect(a["state"]?.string != "exited", "an out-of-office does not stop the sequence: \(a.body)")
            let b = try await h.call(.get, "/v1/sequences/enrollments/\(second.id)/")
            #expect(b["exit_reason"]?.string == "bounced", "\(b.body)")
            let suppressions = try await h.call(.get, "/v1/suppressions/?limit=200")
            #expect(suppressions.data.contains { $0["email"]?.string == gone })
        }
    }

    /// Faults: a wrong password (one event, backing off, no loop), the server away and back
    /// (nothing lost), UIDVALIDITY changed (nothing processed twice), a large message, a backfill.
    @Test func faultsLoseNothingAndProcessNothingTwice() async throws {
        try await Self.withMailbox { h, account, dovecot in
            let inbox = try await Self.connectedInbox(h, account, dovecot)
            _ = try await h.advance(seconds: 1)  // the first connection sets the starting point
            func deliver(_ n: Int, _ tag: String) async throws {
                for i in 0..<n {
                    try await dovecot.deliver(
                        raw: Self.reply(from: "\(tag)\(i)@example.com", to: "sales@acme.test", inReplyTo: "<x-\(tag)\(i)@example.com>"))
                }
            }
            func inboundCount() async throws -> Int { try await h.events("message.received").count }

            try await deliver(3, "a")
            _ = try await h.advance(seconds: 10)
            #expect(try await inboundCount() == 3)

            // The server away for two minutes: failing (polls backing off), then back with nothing lost.
            dovecot.stop()
            for _ in 0..<12 { _ = try await h.advance(seconds: 10) }
            #expect(try await h.call(.get, "/v1/inboxes/\(inbox)/")["connection"]?["imap_status"]?.string == "failing")
            try await dovecot.start()
            try await deliver(2, "b")
            for _ in 0..<16 where try await inboundCount() < 5 { _ = try await h.advance(seconds: 60) }
            #expect(try await inboundCount() == 5)
            #expect(try await h.call(.get, "/v1/inboxes/\(inbox)/")["connection"]?["imap_status"]?.string == "ok")

            // UIDVALIDITY changed: everything is read again, and recognised.
            try await dovecot.changeUIDValidity(to: 4_242)
            try await deliver(1, "c")
            _ = try await h.advance(seconds: 10)
            #expect(try await inboundCount() == 6, "one new message; the five known ones are not processed again")

            // A 25 MiB message goes through the same path.
            var big = Self.reply(from: "big@example.com", to: "sales@acme.test", inReplyTo: "<big@example.com>")
            big.append(contentsOf: Array(repeating: UInt8(ascii: "x"), count: 25 << 20).chunked76())
            try await dovecot.deliver(raw: big)
            try await deliver(1, "after")
            _ = try await h.advance(seconds: 10)
            #expect(try await inboundCount() >= 7, "the message after the large one is read")

            // A wrong password: failing, one event for the episode, polls backing off.
            let patched = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"imap": \#(Self.imapJSON(dovecot, password: "wrong"))}"#)
            #expect(patched.status == 200, "\(patched.body)")
            for _ in 0..<4 { _ = try await h.advance(seconds: 10) }
            let failing = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(failing["connection"]?["imap_status"]?.string == "failing")
            #expect(failing["connection"]?["imap_last_error"]?.string?.contains("authentication") == true, "\(failing.body)")
            let events = try await h.events("inbox.connection_failed").filter { $0["data"]?["protocol"]?.string == "imap" }
            #expect(events.count == 2, "one for the server away, one for the password")
            // Attempts, failed ones included, from Dovecot's log (written a moment later).
            func attempts() throws -> Int {
                try String(contentsOfFile: dovecot.logPath, encoding: .utf8).components(separatedBy: "user=<testuser>").count - 1
            }
            try await Task.sleep(for: .seconds(1))
            let before = try attempts()
            _ = try await h.advance(seconds: 10)
            try await Task.sleep(for: .seconds(1))
            #expect(try attempts() == before, "a failing account is not tried every poll")
        }
    }

    @Test func aBackfillReadsFromItsDayAndABigMailboxIsNotReadAtConnection() async throws {
        try await Self.withMailbox { h, account, dovecot in
            // 10,000 messages already there: a plain connection reads none of them.
            let many = (0..<10_000).map { i in Self.reply(from: "m\(i)@example.com", to: "sales@acme.test", inReplyTo: "<m\(i)@example.com>") }
            try dovecot.deliverMany(many)
            _ = try await Self.connectedInbox(h, account, dovecot)
            _ = try await h.advance(seconds: 1)
            try await dovecot.deliver(raw: Self.reply(from: "new@example.com", to: "sales@acme.test", inReplyTo: "<new@example.com>"))
            _ = try await h.advance(seconds: 10)
            #expect(try await h.events("message.received").count == 1, "only the message that came after the connection")

            // Another mailbox connected with a backfill from today reads what it already holds, once.
            try dovecot.deliverMany(
                (0..<50).map { i in Self.reply(from: "b\(i)@example.com", to: "sales@acme.test", inReplyTo: "<b\(i)@example.com>") }, user: "other")
            let today = ScheduleMath.localDay(Date(), .gmt)
            let backfill = try await h.inbox(
                "backfill-\(Fixture.suffix())@acme.test",
                extra: #", "imap": \#(Self.imapJSON(dovecot, user: "other", extra: #", "since": "\#(today)""#))"#)
            _ = try await h.advance(seconds: 1)
            _ = try await h.advance(seconds: 10)
            let threads = try await h.call(.get, "/v1/inboxes/\(backfill)/threads/?limit=200")
            #expect(threads.data.count == 50, "\(threads.data.count)")
            #expect(try await h.events("message.received").count == 51)
            #expect(h.services.mailboxes.openCount <= 1, "two mailboxes read through one kept connection")
        }
    }
}

extension Array where Element == UInt8 {
    /// Lines of at most 76 bytes (CRLF): a large body a mail server accepts.
    fileprivate func chunked76() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + count / 38)
        var i = 0
        while i < count {
            out.append(contentsOf: self[i..<Swift.min(count, i + 76)])
            out.append(contentsOf: [13, 10])
            i += 76
        }
        return out
    }
}
