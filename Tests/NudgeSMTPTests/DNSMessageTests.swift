import Testing

@testable import NudgeSMTP

/// Parse-level tests on hand-built answers: compression, CNAMEs, rcodes, hostile input.
@Suite struct DNSMessageTests {
    private let query = [Array("sel".utf8), Array("_domainkey".utf8), Array("nudge".utf8), Array("test".utf8)]

    private func be16(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

    private func encode(_ labels: [[UInt8]]) -> [UInt8] {
        labels.flatMap { [UInt8($0.count)] + $0 } + [0]
    }

    /// Header + our question (name at offset 12, so a pointer to it is C0 0C) + `answers`.
    private func response(id: Int = 0x4242, rcode: Int = 0, answerCount: Int, answers: [UInt8], qr: Bool = true) -> [UInt8] {
        let flags = (qr ? 0x8000 : 0) | 0x0100 | 0x0080 | rcode
        return be16(id) + be16(flags) + be16(1) + be16(answerCount) + be16(0) + be16(0)
            + encode(query) + be16(16) + be16(1) + answers
    }

    private func record(name: [UInt8], type: Int, rdata: [UInt8]) -> [UInt8] {
        name + be16(type) + be16(1) + [0, 0, 0x0E, 0x10] + be16(rdata.count) + rdata
    }

    private func txt(_ strings: [String]) -> [UInt8] {
        strings.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }

    @Test func queryLayout() throws {
        let labels = try DNSMessage.labels(of: "A.Example.")
        #expect(labels == [Array("a".utf8), Array("example".utf8)])
        let bytes = DNSMessage.query(id: 0xBEEF, labels: labels, ednsPayloadSize: nil)
        #expect(bytes == [0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 7] + Array("example".utf8) + [0, 0, 16, 0, 1])
        let edns = DNSMessage.query(id: 1, labels: labels, ednsPayloadSize: 1232)
        #expect(edns.suffix(11) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
        #expect(edns[11] == 1)  // ARCOUNT
    }

    @Test func invalidNamesAreRejected() {
        for name in ["", ".", "a..b", String(repeating: "x", count: 64) + ".test", String(repeating: "abc.", count: 70)] {
            #expect(throws: DNSLookupError.self) { try DNSMessage.labels(of: name) }
        }
    }

    @Test func multipleStringsConcatenatedAndMultipleRecords() throws {
        let answers =
            record(name: [0xC0, 0x0C], type: 16, rdata: txt(["v=DKIM1; k=rsa; ", "p=AAAA"]))
            + record(name: [0xC0, 0x0C], type: 16, rdata: txt(["second"]))
        let records = try DNSMessage.parseTXTAnswer(response(answerCount: 2, answers: answers), queryLabels: query)
        #expect(records.map(\.text) == ["v=DKIM1; k=rsa; p=AAAA", "second"])
        #expect(records[0].strings.count == 2)
    }

    @Test func cnameChainIsFollowedToTheTXT() throws {
        // sel._domainkey.nudge.test CNAME k1.keys.example ; k1.keys.example CNAME k2.keys.example ; k2 TXT
        let k1 = encode([Array("k1".utf8), Array("keys".utf8), Array("example".utf8)])
        let first = record(name: [0xC0, 0x0C], type: 5, rdata: k1)
        let k1Offset = 12 + encode(query).count + 4 + 12  // question, then first RR header (2+2+2+4+2)
        let k2 = [2] + Array("k2".utf8) + [0xC0, UInt8(k1Offset + 3)]  // "k2" + pointer to "keys.example"
        let second = record(name: [0xC0, UInt8(k1Offset)], type: 5, rdata: k2)
        let k2Offset = k1Offset + k1.count + 12
        let third = record(name: [0xC0, UInt8(k2Offset)], type: 16, rdata: txt(["v=DKIM1; k=ed25519; p=x"]))
        let records = try DNSMessage.parseTXTAnswer(response(answerCount: 3, answers: first + second + third), queryLabels: query)
        #expect(records.map(\.text) == ["v=DKIM1; k=ed25519; p=x"])
    }

    @Test func rcodesMapToDistinctErrors() {
        #expect(throws: DNSLookupError.nxdomain) {
            try DNSMessage.parseTXTAnswer(response(rcode: 3, answerCount: 0, answers: []), queryLabels: query)
        }
        #expect(throws: DNSLookupError.serverFailure(rcode: 2)) {
            try DNSMessage.parseTXTAnswer(response(rcode: 2, answerCount: 0, answers: []), queryLabels: query)
        }
        #expect(throws: DNSLookupError.noRecords) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 0, answers: []), queryLabels: query)
        }
        // A CNAME whose target's TXT is not in the answer is still "no records".
        let cname = record(name: [0xC0, 0x0C], type: 5, rdata: encode([Array("elsewhere".utf8)]))
        #expect(throws: DNSLookupError.noRecords) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 1, answers: cname), queryLabels: query)
        }
    }

    @Test func wrongQuestionOrNotAResponseIsRejected() {
        #expect(throws: DNSLookupError.self) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 0, answers: [], qr: false), queryLabels: query)
        }
        #expect(throws: DNSLookupError.self) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 0, answers: []), queryLabels: [Array("other".utf8)])
        }
    }

    @Test func compressionLoopsTerminate() {
        // Pointer to itself (offset of the answer's name).
        let selfOffset = 12 + encode(query).count + 4
        let selfLoop = [0xC0, UInt8(selfOffset)] + be16(16) + be16(1) + [0, 0, 0, 0] + be16(0)
        #expect(throws: DNSLookupError.self) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 1, answers: selfLoop), queryLabels: query)
        }
        // Backward-only loop: label "a" then a pointer back to that label, forever.
        let loop = [1, 0x61, 0xC0, UInt8(selfOffset)] + be16(16) + be16(1) + [0, 0, 0, 0] + be16(0)
        #expect(throws: DNSLookupError.self) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 1, answers: loop), queryLabels: query)
        }
        // Forward pointer past the end.
        let forward = [0xC0, 0xFF] + be16(16) + be16(1) + [0, 0, 0, 0] + be16(0)
        #expect(throws: DNSLookupError.self) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 1, answers: forward), queryLabels: query)
        }
    }

    @Test func txtStringOverrunningRDataIsRejected() {
        let bad = record(name: [0xC0, 0x0C], type: 16, rdata: [10] + Array("short".utf8))
        #expect(throws: DNSLookupError.malformedResponse("TXT string past RDATA")) {
            try DNSMessage.parseTXTAnswer(response(answerCount: 1, answers: bad), queryLabels: query)
        }
    }

    /// Every truncation and many random corruptions of a valid answer must throw or parse,
    /// never trap or hang.
    @Test func truncatedAndCorruptedInputNeverCrashes() {
        let valid = response(
            answerCount: 2,
            answers:
                record(name: [0xC0, 0x0C], type: 5, rdata: encode([Array("t".utf8)]))
                + record(name: [1, 0x74, 0], type: 16, rdata: txt(["abc", "def"])))
        for length in 0..<valid.count {
            _ = try? DNSMessage.parseTXTAnswer(Array(valid.prefix(length)), queryLabels: query)
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // xorshift: deterministic, no Foundation
        for _ in 0..<5000 {
            var corrupted = valid
            for _ in 0..<3 {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                corrupted[Int(state % UInt64(corrupted.count))] = UInt8(truncatingIfNeeded: state >> 32)
            }
            _ = try? DNSMessage.parseTXTAnswer(corrupted, queryLabels: query)
        }
    }

    @Test func serverAddressParsing() {
        #expect(DNSServerAddress("127.0.0.1:5353") == DNSServerAddress(host: "127.0.0.1", port: 5353))
        #expect(DNSServerAddress("127.0.0.1") == DNSServerAddress(host: "127.0.0.1", port: 53))
        #expect(DNSServerAddress("[::1]:5353") == DNSServerAddress(host: "::1", port: 5353))
        #expect(DNSServerAddress("::1") == DNSServerAddress(host: "::1", port: 53))
        #expect(DNSServerAddress("dns.example:53") == nil)
        #expect(DNSServerAddress("127.0.0.1:99999") == nil)
    }
}
