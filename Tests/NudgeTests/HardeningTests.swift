import Foundation
@testable import Nudge
import NudgeMIME
import NudgeSMTP
import NudgeTestSupport
import Testing

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
            let (inbox, enrollment, thread) = try await DispatchTests.setUp(h)
            let sourceID = try await h.call(.get, "/v1/threads/\(thread)/")["messages"]?[0]?["rfc822_message_id"]?.string ?? ""
            _ = try await h.advance(seconds: 60)
            // An auto-reply (it does not stop the sequence) becomes the thread's newest message.
            let autoReply = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array("""
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
            #expect(stored["rfc822_message_id"]?.string == String(id.prefix(900)))

            _ = try await h.advance(seconds: 2 * Self.day)
            let got = try smtp.received()
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            try #require(got.count == 1, "the step was not sent: \(e.body)")
            #expect(e["state"]?.string == "active", "\(e.body)")
            #expect(e["timeline"]?[0]?["outcome"]?.string == "sent")
            let sent = try PythonEmail.parse(file: got[0].path)
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
            let source = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(
                "From: Avery Chen <buyer@example.com>\r\nTo: sales@acme.test\r\nSubject: \(encoded)\r\nMessage-ID: <subj-\(UUID().uuidString)@example.com>\r\n\r\nHello\r\n".utf8))
            #expect(source.status == 202)
            let e = try await h.call(.post, "/v1/sequences/enrollments/", """
                {"inbox_id": "\(inbox)", "recipient": {"email": "buyer@example.com"},
                 "source": {"type": "email", "message_id": "\(source["message_id"]?.string ?? "")"},
                 "emails": [{"delay_days": 0, "subject": "Re: {{source.subject}}", "body": "Following up."}]}
                """)
            #expect(e.status == 201, "\(e.body)")
            _ = try await h.advance(seconds: 1)
            let got = try smtp.received()
            let after = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")
            try #require(got.count == 1, "\(after.body)")
            let subject = try PythonEmail.parse(file: got[0].path)["subject"] as? String ?? ""
            #expect(subject.hasPrefix("Re: Line one"))
            #expect(!subject.contains("\r") && !subject.contains("\n") && !subject.contains("\u{07}") && !subject.contains("\u{202E}"))
            #expect(subject.unicodeScalars.count <= Composer.maxSubjectLength)
            #expect(!WireFormat.headerLines(got[0].raw).contains { $0.lowercased().hasPrefix("bcc:") })
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")["state"]?.string == "completed")
        }
    }
}
