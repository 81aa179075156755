import Foundation
import Testing

@testable import NudgeMIME

/// The labelled reply sets in `ReplyLabels/`, scored per language.
@Suite struct ReplyLabelTests {
    /// "en 15/16 de 11/11 ..." for the report, and the overall share.
    static func report(_ name: String, _ ok: [ReplyLanguage: Int], _ total: [ReplyLanguage: Int]) -> Double {
        let line = ReplyLanguage.allCases.filter { total[$0] != nil }.map { "\($0.rawValue) \(ok[$0] ?? 0)/\(total[$0]!)" }
        let all = total.values.reduce(0, +)
        let good = ok.values.reduce(0, +)
        print("\(name): \(good)/\(all) — " + line.joined(separator: " "))
        return all == 0 ? 0 : Double(good) / Double(all)
    }

    @Test func absenceReturnDates() throws {
        #expect(absenceLabels.count >= 80)
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        for label in absenceLabels {
            let sent = try #require(MailDate.parse(label.sent), "\(label.sent)")
            let tz = try #require(TimeZone(identifier: label.timeZone))
            let text = label.html ? HTMLText.toText(label.text) : label.text
            let got = OutOfOffice.returnDate(subject: label.subject, text: text, sent: sent, timeZone: tz)
            total[label.language, default: 0] += 1
            if got?.date.description == label.expected {
                ok[label.language, default: 0] += 1
            } else {
                print(
                    "RETURN DATE \(label.language.rawValue) expected \(label.expected ?? "nil") got \(got?.date.description ?? "nil"): \(label.text)")
            }
            if let got { #expect(!got.sentence.isEmpty) }
        }
        #expect(Self.report("return dates", ok, total) >= 0.95)
    }

    /// Each label through the full inbound analysis, as text and as each client's HTML
    /// (`LabelMail`): the intent, its referrals, and whether it asks to be removed, as
    /// `ReplyAnalysis.analyze` gives them to the worker that stores the reply.
    @Test func replyIntents() {
        #expect(intentLabels.count >= 60)
        var ok: [String: [ReplyLanguage: Int]] = [:]
        var total: [String: [ReplyLanguage: Int]] = [:]
        for label in intentLabels {
            for (variant, raw) in LabelMail.variants(label.text, auto: label.auto) {
                let (m, analysis) = LabelMail.analyze(raw)
                let got = analysis.intent
                #expect(m.classification == (label.auto ? .autoReply : .humanReply))
                total[variant, default: [:]][label.language, default: 0] += 1
                var right = got.kind == label.kind
                if label.kind == .referral {
                    right =
                        right && Set(got.referrals.compactMap(\.email)) == Set(label.emails)
                        && Set(got.referrals.compactMap(\.name)) == Set(label.names)
                }
                if right {
                    ok[variant, default: [:]][label.language, default: 0] += 1
                } else {
                    print(
                        "INTENT (\(variant)) \(label.language.rawValue) expected \(label.kind.rawValue) got \(got.kind.rawValue) \(got.referrals): \(label.text)"
                    )
                }
                #expect((got.kind == .other) == (got.confidence == 0))
            }
        }
        for variant in total.keys.sorted() { #expect(Self.report("intents (\(variant))", ok[variant] ?? [:], total[variant]!) >= 0.9) }
    }

    /// Every request found, whatever else the reply says, and nothing else flagged: an
    /// unsubscribe suppresses the contact. Scored on `ReplyAnalysis.unsubscribeRequested`, the
    /// flag the stored reply acts on.
    @Test func unsubscribeRequests() {
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        for label in intentLabels {
            for (variant, raw) in LabelMail.variants(label.text, auto: label.auto) {
                let got = LabelMail.analyze(raw).1.unsubscribeRequested
                total[label.language, default: 0] += 1
                if got == label.unsubscribe {
                    ok[label.language, default: 0] += 1
                } else {
                    print("UNSUBSCRIBE (\(variant)) expected \(label.unsubscribe): \(label.text)")
                }
                #expect(got == label.unsubscribe, "\(variant): \(label.text)")
            }
        }
        #expect(Self.report("unsubscribe", ok, total) == 1)
        // The mixed labels are there: requests with an absence or a hand-over, in several languages.
        let mixed = intentLabels.filter { $0.unsubscribe && $0.kind != .unsubscribeRequest }
        #expect(Set(mixed.map(\.kind)) == [.referral, .outOfOffice])
        #expect(Set(mixed.map(\.language)).count >= 5)
    }

    /// Exact on the text (`Signature.split`) and through the full inbound analysis, as text and
    /// as each client's HTML: the body of the HTML variant is the label's body in that client's markup.
    @Test func signaturesRemovedExactly() {
        #expect(signatureLabels.count >= 30)
        var ok: [String: [ReplyLanguage: Int]] = [:]
        var total: [String: [ReplyLanguage: Int]] = [:]
        func score(_ variant: String, _ label: SignatureLabel, got: String, expected: String, signature: String, text: String) {
            total[variant, default: [:]][label.language, default: 0] += 1
            if got == expected {
                ok[variant, default: [:]][label.language, default: 0] += 1
            } else {
                print("SIGNATURE (\(variant)) got \(got.debugDescription), expected \(expected.debugDescription)")
            }
            #expect(got == expected, "\(variant)")
            // Nothing is lost: body and signature together are the text.
            #expect(signature.isEmpty || text.contains(signature), "\(variant)")
        }
        for label in signatureLabels {
            let split = Signature.split(label.text)
            score("split", label, got: split.body, expected: label.body, signature: split.signature, text: label.text)
            let (m, analysis) = LabelMail.analyze(LabelMail.raw(label.text))
            score("text", label, got: analysis.body, expected: label.body, signature: analysis.signature, text: m.replyText)
            for client in Client.allCases {
                let (m, analysis) = LabelMail.analyze(LabelMail.raw(client.html(label.text), html: true))
                let expected = HTMLText.toText(client.html(label.body))
                score("html \(client)", label, got: analysis.body, expected: expected, signature: analysis.signature, text: m.replyText)
            }
        }
        for variant in total.keys.sorted() { #expect(Self.report("signatures (\(variant))", ok[variant] ?? [:], total[variant]!) == 1) }
    }

    /// Whole messages, headers and encodings included, through the full inbound analysis.
    @Test func fullMessages() throws {
        #expect(messageLabels.count >= 5)
        for label in messageLabels {
            let (m, analysis) = LabelMail.analyze(label.bytes)
            #expect(m.classification == label.classification, "\(label.name)")
            #expect(analysis.intent.kind == label.intent, "\(label.name)")
            #expect(analysis.unsubscribeRequested == label.unsubscribe, "\(label.name)")
            #expect(analysis.body == label.body, "\(label.name)")
            #expect(analysis.signature == label.signature, "\(label.name)")
            #expect(analysis.returnDate?.date.description == label.returnDate, "\(label.name)")
            #expect(analysis.intent.referrals.compactMap(\.email) == label.emails, "\(label.name)")
            #expect(analysis.intent.referrals.compactMap(\.name) == label.names, "\(label.name)")
        }
    }

    /// The language the rules detect, against the label's (used for numeric date order).
    @Test func languageOfLabelledTexts() {
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        let texts =
            absenceLabels.map { ($0.language, $0.subject + "\n" + ($0.html ? HTMLText.toText($0.text) : $0.text)) }
            + intentLabels.map { ($0.language, ReplyText.extract($0.text)) }
        for (language, text) in texts {
            total[language, default: 0] += 1
            let got = ReplyLanguage.detect(text)
            if got == language { ok[language, default: 0] += 1 } else { print("LANGUAGE expected \(language.rawValue) got \(got.rawValue): \(text)") }
        }
        #expect(Self.report("languages", ok, total) >= 0.9)
    }
}
