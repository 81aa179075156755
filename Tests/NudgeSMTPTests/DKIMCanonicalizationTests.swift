import Testing

@testable import NudgeSMTP

@Suite struct DKIMCanonicalizationTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// RFC 6376 section 3.4.5, the worked example for relaxed canonicalization.
    @Test func rfc6376Section345Example() {
        let message = bytes("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n")
        let split = DKIMCanonicalization.split(message)
        let headers = split.headers.map { DKIMCanonicalization.relaxedHeader(name: $0.name, value: $0.value) }
        #expect(headers == [bytes("a:X"), bytes("b:Y Z")])
        #expect(DKIMCanonicalization.relaxedBody(split.body) == bytes(" C\r\nD E\r\n"))
    }

    @Test func emptyAndBlankBodiesCanonicalizeToNothing() {
        #expect(DKIMCanonicalization.relaxedBody([]) == [])
        #expect(DKIMCanonicalization.relaxedBody(bytes("\r\n")) == [])
        #expect(DKIMCanonicalization.relaxedBody(bytes("\r\n \t\r\n\r\n")) == [])
    }

    @Test func bodyWithoutFinalCRLFGetsOne() {
        #expect(DKIMCanonicalization.relaxedBody(bytes("abc  ")) == bytes("abc\r\n"))
        #expect(DKIMCanonicalization.relaxedBody(bytes("a\r\n\r\nb\r\n\r\n\r\n")) == bytes("a\r\n\r\nb\r\n"))
    }

    @Test func foldedHeaderWithTabsAndRunsOfSpaces() {
        let split = DKIMCanonicalization.split(bytes("SUBJECT:   Hello   \r\n\t  big\t\tworld \r\n\r\n"))
        #expect(split.headers.count == 1)
        #expect(split.headers[0].lowercasedName == "subject")
        let field = split.headers[0]
        #expect(DKIMCanonicalization.relaxedHeader(name: field.name, value: field.value) == bytes("subject:Hello big world"))
    }

    @Test func messageWithoutBodySeparator() {
        let split = DKIMCanonicalization.split(bytes("From: a@b.example\r\nTo: c@d.example\r\n"))
        #expect(split.headers.count == 2)
        #expect(split.body.isEmpty)
    }

    @Test func lineEndingsAreNormalized() {
        #expect(DKIMCanonicalization.normalizeLineEndings(bytes("a\nb\r\nc\rd")) == bytes("a\r\nb\r\nc\r\nd"))
    }

    @Test func malformedHeaderLinesDoNotCrash() {
        let split = DKIMCanonicalization.split(bytes(" leading continuation\r\nno colon here\r\nFrom: x\r\ngarbage\r\n\r\nbody"))
        #expect(split.headers.map(\.lowercasedName) == ["from"])
        #expect(split.body == bytes("body"))
    }
}
