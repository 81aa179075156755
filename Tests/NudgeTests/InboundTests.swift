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

/// Inbound mail through the real endpoint: the whole corpus, webhook retries, and the full loop
/// with messages Nudge really sent.
@Suite struct InboundTests {
    static var corpus: URL {
        if let env = ProcessInfo.processInfo.environment["NUDGE_CORPUS"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return TestCluster.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    static func manifest() throws -> [(file: String, cls: String, reply: String)] {
        let text = try String(contentsOf: corpus.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (f[0], f[1], f.count > 2 ? f[2].replacingOccurrences(of: "\\n", with: "\n") : "")
        }
    }

    @Test func wholeCorpusThroughTheEndpointScoresPerClass() async throws {
        let rows = try Self.manifest()
        #expect(rows.count > 400)
        try await Harness.run { h in
            let inbox = try await h.inbox()
            var right: [String: Int] = [:]
            var total: [String: Int] = [:]
            for row in rows {
                let raw = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(row.file)))
                let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", headers: [.contentType: "message/rfc822"], raw: raw)
                #expect(r.status == 202 || r.status == 200, "\(row.file): \(r.status) \(r.body.prefix(200))")
                let got = r["classification"]?.string ?? "error"
                let expected: Set<String> =
                    switch row.cls {
                    case "dsn": ["bounce"]
                    case "not_dsn": ["human_reply", "other", "auto_reply"]
                    default: [row.cls]
                    }
                total[row.cls, default: 0] += 1
                if expected.contains(got) { right[row.cls, default: 0] += 1 } else { print("misclassified \(row.file): \(got)") }
                if row.cls == "human_reply", let id = r["message_id"]?.string {
                    let m = try await h.call(.get, "/v1/messages/\(id)/")
                    // Stored without its signature (kept in signature_text).
                    #expect(m["reply_text"]?.string == Signature.split(row.reply).body, "\(row.file)")
                }
            }
            for (cls, n) in total.sorted(by: { $0.key < $1.key }) {
                let score = Double(right[cls] ?? 0) / Double(n)
                print("corpus class \(cls): \(right[cls] ?? 0)/\(n) (\(String(format: "%.1f", score * 100))%)")
                #expect(score >= 0.99, "\(cls)")
            }
        }
    }

    /// The lookup runs for every inbound message. Its generic plan must be kept after the first
    /// executions, or each message pays for planning it again (0.67 ms against 0.38 ms to run it
    /// in ops/bench inbound): a generic plan shows its parameters, a custom one the values.
    @Test func inboundLookupKeepsItsGenericPlan() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let logger = h.services.logger
            let plan = try await h.services.db.tenant(h.org, rollback: true) { conn in
                try await conn.query(
                    "PREPARE inbound_lookup(text, text, text, text, text[]) AS \(unescaped: InboundLookup.Statement.sql)", logger: logger)
                // Values made here (ids and fixed text), never input.
                let execute = "EXECUTE inbound_lookup('\(h.org)', '\(inbox)', 'new@example.com', 'avery@example.com', ARRAY['sent-1@nudge.test'])"
                for _ in 0..<8 { _ = try await conn.query("\(unescaped: execute)", logger: logger).collect() }
                let plan = try await conn.query("EXPLAIN \(unescaped: execute)", logger: logger).decode(String.self).collect().joined(separator: "\n")
                try await conn.query("DEALLOCATE inbound_lookup", logger: logger)
                return plan
            }
            #expect(plan.contains("rfc822_message_id = $3"), "\(plan)")
            #expect(!plan.contains("new@example.com"), "\(plan)")
        }
    }

    @Test func webhookRetryReturnsTheFirstResultAndChangesNothing() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let raw = Array(
                "From: a@example.com\r\nTo: sales@acme.test\r\nSubject: Hello\r\nMessage-ID: <retry-1@example.com>\r\n\r\nHi there\r\n".utf8)
            let first = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
            #expect(first.status == 202)
            let again = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
            #expect(again.status == 200)
            #expect(again["message_id"] == first["message_id"])
            let threads = try await h.call(.get, "/v1/inboxes/\(inbox)/threads/")
            #expect(threads["data"]?[0]?["message_count"]?.number == 1)
            #expect(try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: []).status == 422)
            #expect(
                try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: [UInt8](repeating: 65, count: (25 << 20) + 1)).status == 413)
        }
    }

    /// Sends the brief's first step through SMTP, then answers it the way real systems do:
    /// a mail client's reply stops it, an out-of-office does not, a bounce suppresses.
    @Test func realClientReplyStopsOutOfOfficeDoesNotBounceSuppresses() async throws {
        try await Harness.withSMTP { h, smtp in
            let (inbox, enrollment, thread) = try await DispatchTests.setUp(h)
            _ = try await h.advance(seconds: 2 * DispatchTests.day)
            let sent = try await PythonEmail.parse(file: try smtp.received()[0].path)
            let sentID = sent["message_id"] as! String

            // An out-of-office from the corpus, re-addressed as an answer to what we sent.
            let ooo = try Self.readdress("auto_reply/rfc3834-02.eml", from: "buyer@example.com", inReplyTo: sentID)
            let r1 = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: ooo)
            #expect(r1["classification"]?.string == "auto_reply")
            #expect(r1["thread_id"]?.string == thread)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")["state"]?.string == "active")

            // A real Gmail reply.
            let reply = try Self.readdress("human_reply/gmail.eml", from: "buyer@example.com", inReplyTo: sentID)
            let r2 = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: reply)
            #expect(r2["classification"]?.string == "human_reply")
            #expect(r2["thread_id"]?.string == thread)
            #expect(r2["enrollments"] == .array([.string(enrollment)]))
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            #expect(e["state"]?.string == "exited")
            #expect(e["exit_reason"]?.string == "replied")
            _ = try await h.advance(seconds: 10 * DispatchTests.day)
            #expect(try smtp.received().count == 1)
        }
    }

    @Test func bounceForASentMessageSuppressesTheRecipient() async throws {
        try await Harness.run { h in
            let (inbox, enrollment, _) = try await DispatchTests.setUp(h, recipient: "kijitora@example.jp")
            // The first step goes out: a bounce naming the address now matches a send to it.
            _ = try await h.advance(seconds: 2 * DispatchTests.day)
            // Postfix DSNs from the corpus naming a permanent failure; only those naming the
            // address Nudge mailed suppress it.
            let files = try Self.manifest().filter { $0.cls == "dsn" }.map(\.file)
            var suppressedSomething = false
            for f in files.prefix(40) {
                let raw = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(f)))
                let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
                #expect(r["classification"]?.string == "bounce", "\(f)")
                if r["enrollments"] == .array([.string(enrollment)]) { suppressedSomething = true }
            }
            let s = try await h.call(.get, "/v1/suppressions/?limit=200")
            guard case .array(let list)? = s["data"] else {
                Issue.record("no list")
                return
            }
            #expect(!list.isEmpty)
            #expect(list.allSatisfy { $0["reason"]?.string == "bounced" && $0["email"]?.string == "kijitora@example.jp" })
            let e = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")
            if suppressedSomething { #expect(e["exit_reason"]?.string == "bounced") }
            let sup = try await h.call(.get, "/v1/suppressions/?email=kijitora@example.jp")
            #expect((sup["data"]?[0]?["reason"]?.string == "bounced") == suppressedSomething)
        }
    }

    /// Replaces From, To and threading headers of a corpus message.
    static func readdress(_ file: String, from: String, inReplyTo: String) throws -> [UInt8] {
        let text = String(decoding: try Data(contentsOf: corpus.appendingPathComponent(file)), as: UTF8.self)
        let sep = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")!
        let nl = text[sep].hasPrefix("\r\n") ? "\r\n" : "\n"
        var headers = text[..<sep.lowerBound].components(separatedBy: nl)
        // Drop the headers being replaced, with their continuation lines.
        var kept: [String] = []
        var skipping = false
        for line in headers {
            if line.first == " " || line.first == "\t" {
                if !skipping { kept.append(line) }
                continue
            }
            let name = line.split(separator: ":").first.map { $0.lowercased() } ?? ""
            skipping = ["from", "to", "in-reply-to", "references", "message-id", "return-path"].contains(name)
            if !skipping { kept.append(line) }
        }
        headers =
            kept + [
                "From: Avery Chen <\(from)>", "To: sales@acme.test", "In-Reply-To: \(inReplyTo)", "References: \(inReplyTo)",
                "Message-ID: <\(UUID().uuidString)@example.com>",
            ]
        return Array((headers.joined(separator: nl) + nl + nl + text[sep.upperBound...]).utf8)
    }
}
