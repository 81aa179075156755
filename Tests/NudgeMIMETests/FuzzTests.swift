import Foundation
import Testing
@testable import NudgeMIME

/// Deterministic robustness test: mutated corpus messages and hostile synthetic inputs must
/// parse without crashing and in bounded time.
@Suite struct FuzzTests {
    /// SplitMix64: tiny, fast, deterministic across platforms.
    struct PRNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout PRNG) -> [UInt8] {
        var b = input
        guard !b.isEmpty else { return b }
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: b.removeSubrange(Int.random(in: 0..<b.count, using: &rng)...)                        // truncate
        case 1: for _ in 0..<Int.random(in: 1...50, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
        case 2: for _ in 0..<Int.random(in: 1...50, using: &rng) { b.insert([13, 10, 0][Int.random(in: 0..<3, using: &rng)], at: Int.random(in: 0...b.count, using: &rng)) }
        case 3: b = b.map { $0 == 10 ? 13 : $0 }                                                        // CR-only line endings
        case 4:                                                                                         // LF -> CRLF
            var out: [UInt8] = []; out.reserveCapacity(b.count * 2)
            for c in b { if c == 10 { out.append(13) }; out.append(c) }
            b = out
        case 5:                                                                                         // splice a random chunk elsewhere
            let s = Int.random(in: 0..<b.count, using: &rng), e = min(b.count, s + Int.random(in: 1...500, using: &rng))
            b.insert(contentsOf: b[s..<e], at: Int.random(in: 0...b.count, using: &rng))
        case 6:                                                                                         // hostile header snippets
            let junk = ["Content-Type: multipart/mixed; boundary=\"\"\n", "Content-Transfer-Encoding: base64\n\n%%%==\n",
                        "Subject: =?bogus-charset?Q?=ZZ=?= =?utf-8?B?####?=\n", "Content-Type: text/plain; charset*0*=x'y'%; charset*1=\n",
                        "Content-Transfer-Encoding: quoted-printable\n\n=\n=4=\n=XY\n", "From: \"unterminated <a@b\n", "\n--\n--\n"]
            b.insert(contentsOf: Array(junk[Int.random(in: 0..<junk.count, using: &rng)].utf8), at: Int.random(in: 0...b.count, using: &rng))
        default:                                                                                        // delete a range
            let s = Int.random(in: 0..<b.count, using: &rng)
            b.removeSubrange(s..<min(b.count, s + Int.random(in: 1...200, using: &rng)))
        }
        return b
    }

    @Test func mutatedCorpusNeverCrashesOrHangs() throws {
        let files = try Corpus.manifest().map(\.file)
        let originals = try files.map { try Corpus.bytes($0) }
        var rng = PRNG(state: 0x5EED_2026)
        let start = Date()
        var slowest = 0.0
        for i in 0..<5000 {
            let raw = Self.mutate(originals[Int.random(in: 0..<originals.count, using: &rng)], &rng)
            let t = Date()
            // Full analysis on every 4th input, MIME parsing only on the rest (keeps the debug build fast).
            if i % 4 == 0 { _ = InboundMessage.analyze(raw) } else { _ = MIMEParser.parse(raw) }
            slowest = max(slowest, Date().timeIntervalSince(t))
        }
        let total = Date().timeIntervalSince(start)
        print("fuzz: 5000 mutations in \(String(format: "%.2f", total)) s, slowest \(String(format: "%.3f", slowest)) s")
        #expect(slowest < 1.0)
        #expect(total < 20)
    }

    static func timed(_ raw: [UInt8]) -> (InboundMessage, Double) {
        let t = Date()
        let m = InboundMessage.analyze(raw)
        return (m, Date().timeIntervalSince(t))
    }

    @Test func deeplyNestedMultipartIsBounded() {
        var s = "From: a@b.c\nSubject: deep\n"
        for i in 0..<1000 { s += "Content-Type: multipart/mixed; boundary=\"b\(i)\"\n\n--b\(i)\n" }
        s += "Content-Type: text/plain\n\nhello\n"
        let (m, secs) = Self.timed(Array(s.utf8))
        var depth = 0
        var p = m.mime
        while let c = p.children.first { depth += 1; p = c }
        #expect(depth <= MIMEParser.maxDepth)
        #expect(secs < 2)
    }

    @Test func hugeHeaderLine() {
        let big = String(repeating: "=?utf-8?q?x", count: 100_000)  // ~1.1 MB of unterminated encoded words
        let raw = Array("From: a@b.c\nSubject: \(big)\nX-Long: \(String(repeating: "a", count: 1_000_000))\n\nbody\n".utf8)
        let (m, secs) = Self.timed(raw)
        #expect(m.text == "body\n")
        #expect(m.subject.utf8.count <= HeaderLimits.maxValueBytes)
        #expect(secs < 3)
    }

    @Test func manyPartsAreCapped() {
        var s = "From: a@b.c\nContent-Type: multipart/mixed; boundary=x\n\n"
        for i in 0..<20_000 { s += "--x\nContent-Type: text/plain\n\npart \(i)\n" }
        s += "--x--\n"
        let (m, secs) = Self.timed(Array(s.utf8))
        #expect(m.mime.children.count < MIMEParser.maxParts)
        #expect(m.text == "part 0")
        #expect(secs < 5)
    }

    @Test func hostileHTMLIsLinear() {
        let html = String(repeating: "<a '", count: 100_000) + String(repeating: "<!", count: 50_000) + "<script>"
        let t = Date()
        _ = HTMLText.toText(html)
        #expect(Date().timeIntervalSince(t) < 3)
    }

    @Test func invalidEncodingsAndCharsets() {
        let raw = Array("""
        From: =?x-bogus?B?!!!?= <a@b.c>
        Subject: =?utf-8?B?ZZZ?= =?iso-8859-1?Q?caf=E9?=
        Content-Type: text/plain; charset=x-unknown-charset
        Content-Transfer-Encoding: base64

        ###SGVsbG8=###==garbage
        """.utf8)
        let m = InboundMessage.analyze(raw)
        #expect(m.text.hasPrefix("Hello"))
        #expect(m.subject.hasSuffix("café"))
        #expect(m.from?.address == "a@b.c")
    }
}
