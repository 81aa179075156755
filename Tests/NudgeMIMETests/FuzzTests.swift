import Foundation
import NudgeTestSupport
import Testing

@testable import NudgeMIME

#if canImport(Glibc)
    import Glibc
#endif

/// Deterministic robustness test: mutated corpus messages and hostile synthetic inputs must
/// parse without crashing and in bounded time. Time is this thread's CPU time, not the wall clock,
/// so other work on a busy machine (a parallel build) cannot fail the bound; a hang still does.
@Suite struct FuzzTests {
    static func cpuNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    @Test func mutatedCorpusNeverCrashesOrHangs() throws {
        let files = try Corpus.manifest().map(\.file)
        let originals = try files.map { try Corpus.bytes($0) }
        var rng = SplitMix(state: 0x5EED_2026)
        let start = Self.cpuNow()
        var slowest = 0.0
        for i in 0..<5000 {
            let raw = Mutation.mutate(originals[Int.random(in: 0..<originals.count, using: &rng)], &rng)
            let t = Self.cpuNow()
            // Full analysis on every 4th input, MIME parsing only on the rest (keeps the debug build fast).
            if i % 4 == 0 { _ = InboundMessage.analyze(raw) } else { _ = MIMEParser.parse(raw) }
            slowest = max(slowest, Self.cpuNow() - t)
        }
        let total = Self.cpuNow() - start
        print("fuzz: 5000 mutations in \(String(format: "%.2f", total)) s of CPU, slowest \(String(format: "%.3f", slowest)) s")
        #expect(slowest < 1.0)
        #expect(total < 20)
    }

    static func timed(_ raw: [UInt8]) -> (InboundMessage, Double) {
        let t = cpuNow()
        let m = InboundMessage.analyze(raw)
        return (m, cpuNow() - t)
    }

    @Test func deeplyNestedMultipartIsBounded() {
        var s = "From: a@b.c\nSubject: deep\n"
        for i in 0..<1000 { s += "Content-Type: multipart/mixed; boundary=\"b\(i)\"\n\n--b\(i)\n" }
        s += "Content-Type: text/plain\n\nhello\n"
        let (m, secs) = Self.timed(Array(s.utf8))
        var depth = 0
        var p = m.mime
        while let c = p.children.first {
            depth += 1
            p = c
        }
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
        let t = Self.cpuNow()
        _ = HTMLText.toText(html)
        #expect(Self.cpuNow() - t < 3)
    }

    @Test func invalidEncodingsAndCharsets() {
        let raw = Array(
            """
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
