import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeSMTP

func sampleMessage(
    to: String = "lead@prospect.test", id: String = "step-1.\(UUID().uuidString)@nudge.acme.test",
    body: String = "Hello,\njust following up.\n"
) -> OutboundMessage {
    OutboundMessage(
        from: EmailAddress(name: "Ada Lovelace", address: "ada@acme.test"),
        to: [EmailAddress(name: "Lead Person", address: to)],
        subject: "Quick follow-up",
        date: Date(timeIntervalSince1970: 1_750_000_000),
        messageID: id,
        textBody: body
    )
}

@Test func dateIsRFC5322InUTC() {
    #expect(RFC5322Date.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    #expect(RFC5322Date.format(Date(timeIntervalSince1970: 1_750_000_000)) == "Sun, 15 Jun 2025 15:06:40 +0000")
}

@Test func asciiBodyIs7bitAndEveryLineEndsInCRLF() throws {
    let bytes = try sampleMessage(body: "one\ntwo\r\nthree\rfour").render()
    #expect(!WireFormat.hasBareLF(bytes))
    #expect(!bytes.indices.contains { bytes[$0] == 0x0D && ($0 + 1 == bytes.count || bytes[$0 + 1] != 0x0A) })
    #expect(WireFormat.headerLines(bytes).contains("Content-Transfer-Encoding: 7bit"))
    let expectedBody = Array("\r\n\r\none\r\ntwo\r\nthree\r\nfour\r\n".utf8)
    #expect(bytes.suffix(expectedBody.count).elementsEqual(expectedBody))
}

@Test func nonASCIIOrLongLinesUseQuotedPrintableWithShortLines() throws {
    for body in ["Grüße\n", String(repeating: "x", count: 1200) + "\n"] {
        let bytes = try sampleMessage(body: body).render()
        #expect(WireFormat.headerLines(bytes).contains("Content-Transfer-Encoding: quoted-printable"))
        #expect(WireFormat.lines(bytes).allSatisfy { $0.count <= 78 })
        #expect(bytes.allSatisfy { $0 < 0x80 })
    }
}

@Test func quotedPrintableEncodesTrailingWhitespaceEqualsAndSoftBreaks() {
    let encoded = String(decoding: QuotedPrintable.encode(Array("a=b \r\nc\t\r\n".utf8)), as: UTF8.self)
    #expect(encoded == "a=3Db=20\r\nc=09\r\n")
    let long = String(decoding: QuotedPrintable.encode(Array(String(repeating: "é", count: 40).utf8)), as: UTF8.self)
    let lines = long.components(separatedBy: "\r\n")
    #expect(lines.count > 1)
    #expect(lines.allSatisfy { $0.utf8.count <= 76 })
    #expect(lines.dropLast().allSatisfy { $0.hasSuffix("=") })
    // Escapes are never split across a soft break: every "=" starts "=XX" or is the soft break.
    for line in lines {
        let hex = Set("0123456789ABCDEF")
        let chars = Array(line.hasSuffix("=") ? String(line.dropLast()) : line)
        for (i, c) in chars.enumerated() where c == "=" {
            #expect(i + 2 < chars.count && hex.contains(chars[i + 1]) && hex.contains(chars[i + 2]), "\(line)")
        }
    }
}

/// `adjacentEncodedWords`: a long name without spaces needs several encoded-words side by side.
/// Python's phrase parser keeps the whitespace between them (RFC 2047 6.2 says drop it), so
/// that case is checked with Python's RFC 2047 decoder (`email.header.decode_header`) instead.
@Test(arguments: [
    ("Zoë Ångström", false), ("Zoë \"The Closer\" Ångström, Sales Lead at a company with a very long name", false),
    ("日本語の名前がとても長い場合のテストケースです・日本語の名前がとても長い場合", true),
])
func headersFoldWithinSeventyEightCharactersAndDecodeExactly(name: String, adjacentEncodedWords: Bool) async throws {
    var message = sampleMessage()
    message.subject = "Grüße — 日本語 follow-up " + String(repeating: "ünïcödé wörds ", count: 8)
    message.from.name = name
    message.references = (1...6).map { "ref-\($0).\(UUID().uuidString)@nudge.acme.test" }
    message.extraHeaders = [("X-Nudge-Enrollment", String(repeating: "plain words ", count: 12))]
    let bytes = try message.render()
    for line in WireFormat.headerLines(bytes) {
        #expect(line.utf8.count <= 78, "\(line)")
    }
    let parsed = try await PythonEmail.parse(bytes: bytes)
    #expect(parsed["subject"] as? String == message.subject)
    #expect(parsed[adjacentEncodedWords ? "from_name_rfc2047" : "from_name"] as? String == name)
    #expect(parsed["references"] as? String == message.references.map { "<\($0)>" }.joined(separator: " "))
    #expect(parsed["x_nudge_enrollment"] as? String == String(repeating: "plain words ", count: 12))
    #expect((parsed["defects"] as? [String]) == [])
}

@Test(arguments: [
    ("Ada Lovelace", "Ada Lovelace <ada@acme.test>"),
    ("Lovelace, Ada", "\"Lovelace, Ada\" <ada@acme.test>"),
    ("Ada \"Countess\" L.", "\"Ada \\\"Countess\\\" L.\" <ada@acme.test>"),
])
func asciiDisplayNamesAreAtomsOrQuoted(name: String, expected: String) async throws {
    var message = sampleMessage()
    message.from = EmailAddress(name: name, address: "ada@acme.test")
    let bytes = try message.render()
    #expect(WireFormat.headerLines(bytes).contains("From: \(expected)"))
    #expect(try await PythonEmail.parse(bytes: bytes)["from_name"] as? String == name)
}

/// Every header value that could carry CR, LF or NUL, and the field the error must name.
enum Injection: String, CaseIterable, Sendable {
    case subject, fromName, fromAddress, toName, toAddress, messageID, inReplyTo, references, unsubscribe, extraName, extraValue

    func apply(_ bad: String, to m: inout OutboundMessage) -> String {
        switch self {
        case .subject:
            m.subject = "Hi\(bad)Bcc: victim@evil.test"
            return "subject"
        case .fromName:
            m.from.name = "Ada\(bad)Bcc: x@evil.test"
            return "from.name"
        case .fromAddress:
            m.from.address = "ada@acme.test\(bad)Bcc: x@evil.test"
            return "from.address"
        case .toName:
            m.to[0].name = "Lead\(bad)X: y"
            return "to[0].name"
        case .toAddress:
            m.to[0].address = "lead@prospect.test\(bad)X: y"
            return "to[0].address"
        case .messageID:
            m.messageID = "a@b.test\(bad)X: y"
            return "messageID"
        case .inReplyTo:
            m.inReplyTo = "a@b.test\(bad)X: y"
            return "inReplyTo"
        case .references:
            m.references = ["ok@b.test", "a@b.test\(bad)X: y"]
            return "references[1]"
        case .unsubscribe:
            m.listUnsubscribeURL = "https://u.test/x\(bad)X: y"
            return "listUnsubscribeURL"
        case .extraName:
            m.extraHeaders = [("X-Nudge\(bad)Bcc", "v")]
            return "extraHeaders[0].name"
        case .extraValue:
            m.extraHeaders = [("X-Nudge-Enrollment", "42\(bad)Bcc: x@evil.test")]
            return "extraHeaders[0].value"
        }
    }
}

@Test(arguments: Injection.allCases, ["\r\n", "\n", "\r", "\0"])
func headerInjectionIsRejectedNamingTheField(injection: Injection, bad: String) {
    var message = sampleMessage()
    let field = injection.apply(bad, to: &message)
    #expect(throws: OutboundMessageError.forbiddenCharacter(field: field)) { try message.render() }
}

@Test(arguments: [
    "", "plain", "a@b@c.test", "a b@c.test", "<a@c.test>", "a@", "@c.test", "a..b@c.test", ".a@c.test", "a.@c.test",
    "a@-c.test", "a@c..test", "jörg@c.test", "a,b@c.test", "a@c.test ",
])
func invalidAddressesAreRejected(address: String) {
    var message = sampleMessage()
    message.to[0].address = address
    #expect(throws: OutboundMessageError.invalidAddress(field: "to[0].address")) { try message.render() }
}

@Test func invalidIdsURLsAndHeaderNamesAreRejected() {
    var m = sampleMessage()
    m.messageID = "<abc@nudge.acme.test>"
    #expect(throws: OutboundMessageError.invalidMessageID(field: "messageID")) { try m.render() }
    m = sampleMessage()
    m.inReplyTo = "no-at-sign"
    #expect(throws: OutboundMessageError.invalidMessageID(field: "inReplyTo")) { try m.render() }
    m = sampleMessage()
    m.listUnsubscribeURL = "https://u.test/a b"
    #expect(throws: OutboundMessageError.invalidURL(field: "listUnsubscribeURL")) { try m.render() }
    m.listUnsubscribeURL = "javascript:alert(1)"
    #expect(throws: OutboundMessageError.invalidURL(field: "listUnsubscribeURL")) { try m.render() }
    m = sampleMessage()
    m.extraHeaders = [("X Bad", "v")]
    #expect(throws: OutboundMessageError.invalidHeaderName(field: "extraHeaders[0].name")) { try m.render() }
    m.extraHeaders = [("x-ok", "v"), ("message-id", "<evil@x.test>")]
    #expect(throws: OutboundMessageError.reservedHeaderName(field: "extraHeaders[1].name")) { try m.render() }
    m = sampleMessage()
    m.to = []
    #expect(throws: OutboundMessageError.noRecipients) { try m.render() }
}

/// Only ids that are valid RFC 5322 msg-ids go into outgoing headers: a domain literal is one
/// (`id-right = no-fold-literal`); no "@", two "@", non-ASCII, spaces and over-long ids are not.
@Test func sendableMessageIDs() {
    for id in ["a@b.test", "weird.id@[10.0.0.1]", "x@[IPv6:2001:db8::1]", "a.b!#$%&'*+-/=?^_`{|}~@c.d"] {
        #expect(ThreadingHeaders.isSendable(id), "\(id)")
    }
    for id in [
        "no-at-sign-here", "two@at@signs.test", "über@example.com", "a@exämple.com", "a b@c.test", "a..b@c.test", "a@[1]]",
        "a@[x\\y]", "a@[x y]", "<a@b.test>", "a@b.test\r\nX: y", String(repeating: "x", count: 1_000) + "@example.com", "",
    ] {
        #expect(!ThreadingHeaders.isSendable(id), "\(id)")
    }
    var m = sampleMessage()
    m.inReplyTo = "weird.id@[10.0.0.1]"
    m.references = ["weird.id@[10.0.0.1]"]
    #expect(WireFormat.headerLines(try! m.render()).contains("In-Reply-To: <weird.id@[10.0.0.1]>"))
}

/// In-Reply-To is the newest id that can be sent; References keep the received chain's sendable
/// ids, each once, the parent last, bounded to the first and the most recent.
@Test func threadingHeadersSkipWhatCannotBeSentAndStayBounded() {
    var t = ThreadingHeaders.make(
        candidates: ["bad id", "no-at", "good@x.test", "older@x.test"],
        references: ["root@x.test", "über@x.test", "good@x.test", "mid@x.test", "root@x.test"], own: "me@x.test")
    #expect(t.inReplyTo == "good@x.test")
    #expect(t.references == ["mid@x.test", "root@x.test", "good@x.test"])
    t = ThreadingHeaders.make(candidates: ["no-at"], references: [], own: "me@x.test")
    #expect(t.inReplyTo == nil)
    #expect(t.references.isEmpty)
    t = ThreadingHeaders.make(candidates: ["me@x.test", "p@x.test"], references: ["me@x.test"], own: "me@x.test")
    #expect(t.inReplyTo == "p@x.test")
    #expect(t.references == ["p@x.test"])
    let chain = (0..<100).map { "r\($0)@x.test" }
    t = ThreadingHeaders.make(candidates: ["last@x.test"], references: chain, own: "me@x.test")
    #expect(t.references.count == ThreadingHeaders.maxReferences)
    #expect(t.references.first == "r0@x.test")
    #expect(t.references.last == "last@x.test")
    #expect(t.references.dropLast().last == "r99@x.test")
    var m = sampleMessage()
    m.inReplyTo = t.inReplyTo
    m.references = (0..<20).map { _ in String(repeating: "y", count: 240) + "@x.test" }
    let lines = WireFormat.lines(try! m.render())
    #expect(lines.allSatisfy { $0.count <= 998 })
}
