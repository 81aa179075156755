import Foundation
import Testing

@testable import NudgeSMTP

/// The response reader and parsers without a server: literals split at every byte boundary,
/// message lines that look like IMAP responses, FETCH items in any order.
struct IMAPParsingTests {
    /// A FETCH whose literal holds a line starting with the tag, one starting with "* ", one
    /// ending in "{5}", a bare CR and no final newline: all must stay message bytes.
    static let literal: [UInt8] = Array("Subject: x\r\n\r\nN2 OK fake\r\n* 3 EXISTS\r\nends in {5}\r\nbare\rcr\u{00}nul".utf8) + [0xE9, 0xFF]
    static let stream: [UInt8] =
        Array("* 1 FETCH (BODY[] {\(literal.count)}\r\n".utf8) + literal
        + Array(" UID 7 FLAGS (\\Recent))\r\n* 2 FETCH (UID 8 BODY[] \"tiny \\\"q\\\"\")\r\nN2 OK Fetch completed.\r\n".utf8)

    @Test func literalSurvivesAnySplit() throws {
        for split in 0...Self.stream.count {
            var reader = IMAPResponseReader()
            try Self.stream[..<split].withUnsafeBytes { try reader.feed($0) }
            try Self.stream[split...].withUnsafeBytes { try reader.feed($0) }
            let responses = reader.take()
            #expect(responses.count == 3, "split at \(split)")
            let first = try responses[0].fetchAttributes()
            #expect(first["UID"] == .atom("7"))
            #expect(first["BODY[]"] == .string(Self.literal))
            #expect(first["FLAGS"] == .list([.atom("\\Recent")]))
            #expect(try responses[1].fetchAttributes()["BODY[]"] == .string(Array("tiny \"q\"".utf8)))
            #expect(responses[2].status == IMAPStatus(tag: "N2", condition: "OK", code: nil, line: "N2 OK Fetch completed."))
        }
    }

    @Test func literalAboveLimitIsDropped() throws {
        var reader = IMAPResponseReader(literalLimit: 10)
        try Self.stream.withUnsafeBytes { try reader.feed($0) }
        let first = try reader.take()[0].fetchAttributes()
        #expect(first["BODY[]"] == .skippedLiteral(size: Self.literal.count))
        #expect(first["UID"] == .atom("7"))
    }

    @Test func statusAndData() throws {
        var reader = IMAPResponseReader()
        try Array(
            "* OK [UIDVALIDITY 42] UIDs valid\r\n* 17 EXISTS\r\n* SEARCH 3 9 12\r\n* SEARCH\r\nN1 NO [NONEXISTENT] Mailbox doesn't exist: X\r\n".utf8
        )
        .withUnsafeBytes { try reader.feed($0) }
        let r = reader.take()
        #expect(r[0].status?.codeName == "UIDVALIDITY")
        #expect(r[0].status?.codeArgument == "42")
        #expect(r[1].numbered?.0 == 17)
        #expect(r[1].numbered?.1 == "EXISTS")
        #expect(r[2].searchResults == [3, 9, 12])
        #expect(r[3].searchResults == [])
        #expect(r[4].status?.codeName == "NONEXISTENT")
    }

    @Test func sectionWithSpacesIsOneName() throws {
        var reader = IMAPResponseReader()
        try Array("* 1 FETCH (BODY[HEADER.FIELDS (FROM TO)] {3}\r\nab\n UID 2)\r\n".utf8).withUnsafeBytes { try reader.feed($0) }
        let a = try reader.take()[0].fetchAttributes()
        #expect(a["BODY[HEADER.FIELDS (FROM TO)]"] == .string(Array("ab\n".utf8)))
        #expect(a["UID"] == .atom("2"))
    }

    @Test func commands() {
        #expect(IMAPCommands.uidSet([9, 3, 4, 5, 12, 4]) == "3:5,9,12")
        #expect(IMAPCommands.mailboxName("Entwürfe") == "Entw&APw-rfe")
        #expect(IMAPCommands.mailboxName("A&B") == "A&-B")
        #expect(IMAPCommands.mailboxName("日本語") == "&ZeVnLIqe-")
        #expect(IMAPCommands.examine("My \"box\"") == "EXAMINE \"My \\\"box\\\"\"")
        #expect(IMAPCommands.searchDate(Date(timeIntervalSince1970: 1_709_600_000)) == "05-Mar-2024")
    }

    @Test func transcriptMasksCredentials() {
        let t = IMAPTranscript(recording: true)
        t.client("A003 LOGIN testuser secret")
        t.client("A004 AUTHENTICATE PLAIN AHRlc3R1c2VyAHNlY3JldA==")
        t.server("A004 OK Logged in")
        t.client("A005 AUTHENTICATE LOGIN")
        t.server("+ VXNlcm5hbWU6")
        t.client("dGVzdHVzZXI=")
        t.server("+ UGFzc3dvcmQ6")
        t.client("c2VjcmV0")
        t.server("A005 NO [AUTHENTICATIONFAILED] Authentication failed.")
        t.client("A006 LOGOUT")
        #expect(
            t.lines == [
                "C: A003 LOGIN ****", "C: A004 AUTHENTICATE PLAIN ****", "S: A004 OK Logged in", "C: A005 AUTHENTICATE LOGIN ****",
                "S: + VXNlcm5hbWU6", "C: ****", "S: + UGFzc3dvcmQ6", "C: ****", "S: A005 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "C: A006 LOGOUT",
            ])
        #expect(t.lastServerLine == "A005 NO [AUTHENTICATIONFAILED] Authentication failed.")
    }
}
