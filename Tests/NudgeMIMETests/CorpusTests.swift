import Foundation
import Testing

@testable import NudgeMIME

/// Every corpus file through `InboundMessage.analyze`, scored per class.
@Suite struct CorpusTests {
    /// Corpus class -> accepted classifications. `not_dsn` only has to be "not a bounce"; these
    /// two samples are ordinary person-written messages, so they come out as `human_reply`.
    static func accepted(_ kind: String, _ c: InboundClass) -> Bool {
        switch kind {
        case "human_reply": return c == .humanReply
        case "auto_reply": return c == .autoReply
        case "dsn": return c == .bounce
        case "complaint": return c == .complaint
        case "not_dsn": return c != .bounce
        default: return false
        }
    }

    @Test func classificationPerClass() throws {
        let entries = try Corpus.manifest()
        #expect(entries.count >= 440)
        var total: [String: Int] = [:]
        var ok: [String: Int] = [:]
        for e in entries {
            let m = InboundMessage.analyze(try Corpus.bytes(e.file))
            total[e.kind, default: 0] += 1
            if Self.accepted(e.kind, m.classification) {
                ok[e.kind, default: 0] += 1
            } else {
                print("MISCLASSIFIED \(e.file): \(m.classification.rawValue)")
            }
        }
        for kind in total.keys.sorted() {
            let n = total[kind]!
            let k = ok[kind] ?? 0
            print("\(kind) \(k)/\(n)")
            #expect(Double(k) >= 0.99 * Double(n), "\(kind): \(k)/\(n)")
        }
    }

    @Test func replyTextMatchesManifest() throws {
        let replies = try Corpus.manifest().filter { $0.kind == "human_reply" }
        #expect(replies.count == 10)
        for e in replies {
            let m = InboundMessage.analyze(try Corpus.bytes(e.file))
            #expect(m.replyText == e.expectedReply, "\(e.file)")
        }
    }

    /// A reply that asks to be removed suppresses its sender, so no reply of the corpus may be
    /// read as asking it unless it does. The manifest labels replies by class only, and none of
    /// its human or automatic replies asks (their texts are greetings and absence notices): any
    /// corpus file read as a reply (`ReplyAnalysis`, as the worker stores it) must not be flagged.
    @Test func noCorpusReplyIsReadAsAnUnsubscribe() throws {
        var replies = 0
        for e in try Corpus.manifest() {
            let m = InboundMessage.analyze(try Corpus.bytes(e.file))
            guard m.classification == .humanReply || m.classification == .autoReply else { continue }
            replies += 1
            let analysis = ReplyAnalysis.analyze(m, timeZone: .gmt)
            #expect(!analysis.unsubscribeRequested, "\(e.file) (\(e.kind))")
            #expect(analysis.intent.kind != .unsubscribeRequest, "\(e.file) (\(e.kind))")
        }
        #expect(replies >= 14)
    }

    @Test func bounceRecipientCoverage() throws {
        let dsns = try Corpus.manifest().filter { $0.kind == "dsn" }
        var withRecipient = 0
        var withStatus = 0
        var withMessageID = 0
        for e in dsns {
            let m = InboundMessage.analyze(try Corpus.bytes(e.file))
            guard let b = m.bounce else { continue }
            if !b.recipients.isEmpty { withRecipient += 1 } else { print("NO RECIPIENT \(e.file)") }
            if b.recipients.contains(where: { $0.status != nil }) { withStatus += 1 }
            if b.originalMessageID != nil { withMessageID += 1 }
            for r in b.recipients { #expect(r.address.contains("@") || r.address.isEmpty == false, "\(e.file)") }
        }
        print("dsn with >=1 recipient: \(withRecipient)/\(dsns.count); with status: \(withStatus); with original Message-ID: \(withMessageID)")
        #expect(Double(withRecipient) >= 0.95 * Double(dsns.count))
    }

    @Test func complaintsNameTheRecipient() throws {
        let complaints = try Corpus.manifest().filter { $0.kind == "complaint" }
        var named = 0
        for e in complaints {
            let m = InboundMessage.analyze(try Corpus.bytes(e.file))
            if let c = m.complaint, !c.complainedAddresses.isEmpty { named += 1 } else { print("COMPLAINT WITHOUT ADDRESS \(e.file)") }
        }
        print("complaints naming a recipient: \(named)/\(complaints.count)")
        #expect(Double(named) >= 0.9 * Double(complaints.count))
    }
}
