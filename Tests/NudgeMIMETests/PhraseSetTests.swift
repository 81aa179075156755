import Foundation
import Testing

@testable import NudgeMIME

/// The literal prefilter of the reply rules must never change an answer: a pattern is skipped
/// only for text without its literal, so it must be unable to match such text.
@Suite struct PhraseSetTests {
    @Test(
        arguments: [
            ("wrong person", ["wrong person"]),
            (#"not\s+(?:\p{L}+\s+)?interested"#, ["interested"]),
            (#"no,?\s+thanks?"#, ["thank"]),
            (#"(?:i\s+am|i'm)\s+(?:out|away)"#, ["away", "out"]),
            (#"(?:i\s+am|i'm)\s+out"#, ["out"]),
            (#"llám(?:ame|eme|enme)"#, ["llám"]),
            (#"absente?"#, ["absent"]),
            (#"x{0,3}yz{2,}"#, ["yz"]),
            (#"e\-mail"#, ["e-mail"]),
            (#"(?<!\p{L})cc'd(?!\p{L})"#, ["cc'd"]),
            (#"keine\s+weiteren|nicht\s+mehr\s+senden"#, ["senden", "weiteren"]),
            (#"[abc]+def"#, ["def"]),
        ] as [(String, [String])])
    func literalsThePatternNeeds(pattern: String, expected: [String]) {
        #expect(Anchor.required(pattern) == expected.sorted(), "\(pattern)")
    }

    @Test(arguments: [#"\p{L}+"#, "a|", #"(?:a|b)?c?"#, #".*"#, #"[a-z]{3}"#])
    func noLiteralMeansAlwaysRun(pattern: String) {
        #expect(Anchor.required(pattern) == nil, "\(pattern)")
    }

    static let sets: [(String, PhraseSet)] = [
        ("absence", IntentRules.absence), ("departed", IntentRules.departed), ("wrongPerson", IntentRules.wrongPerson),
        ("notInterested", IntentRules.notInterested), ("meeting", IntentRules.meeting), ("interested", IntentRules.interested),
        ("referral cue", Referral.cue), ("unsubscribe request", Unsubscribe.request),
    ]

    /// Every labelled text and every corpus reply, as the rules read them.
    static func texts() throws -> [String] {
        var raw = intentLabels.map(\.text) + absenceLabels.map { $0.subject + "\n" + $0.text } + signatureLabels.map(\.text)
        for entry in try Corpus.manifest() {
            let m = InboundMessage.analyze(try Corpus.bytes(entry.file))
            raw += [m.subject + "\n" + m.replyText, m.text]
        }
        return raw.map { ReplyIntent.Prepared(body: $0).lower }
    }

    @Test func prefilteredAnswersEqualTheWholeAlternation() throws {
        let texts = try Self.texts()
        #expect(texts.count > 300)
        var hits = 0
        for (name, set) in Self.sets {
            let whole = try NSRegularExpression(pattern: set.combined)
            for text in texts {
                let expected = whole.firstMatch(in: text, range: NSRange(location: 0, length: (text as NSString).length)) != nil
                if expected { hits += 1 }
                #expect(set.matches(text) == expected, "\(name): \(text.prefix(200))")
                // Stronger: no single pattern matches a text that lacks its literal.
                var bytes = text
                bytes.withUTF8 { buffer in
                    for rule in set.rules where !rule.anchors.isEmpty {
                        let matched = rule.re.firstMatch(in: text, range: NSRange(location: 0, length: (text as NSString).length)) != nil
                        #expect(!matched || rule.anchors.contains { ByteSearch.occurs($0, in: buffer) }, "\(name): \(rule.re.pattern)")
                    }
                }
            }
        }
        #expect(hits > 100, "the texts exercise the rules")
    }

    /// Where the rules need the match itself (what comes before and after it), it is the one
    /// the whole alternation finds.
    @Test func firstMatchIsTheAlternationsMatch() throws {
        let whole = try NSRegularExpression(pattern: Unsubscribe.request.combined)
        var hits = 0
        for sentence in try Self.texts().flatMap(ReplySentences.split) {
            let expected = whole.firstMatch(in: sentence, range: NSRange(location: 0, length: (sentence as NSString).length))?.range
            if expected != nil { hits += 1 }
            #expect(Unsubscribe.request.firstMatch(sentence) == expected, "\(sentence)")
        }
        #expect(hits > 40)
    }

    /// Nearly every pattern has a literal (those without one are run on every reply).
    @Test func patternsHaveLiterals() {
        for (name, set) in Self.sets {
            let without = set.rules.filter(\.anchors.isEmpty).map(\.re.pattern)
            #expect(without.count <= 2, "\(name): \(without)")
        }
    }
}
