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

    @Test func replyIntents() {
        #expect(intentLabels.count >= 60)
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        for label in intentLabels {
            let got = ReplyIntent.classify(replyText: ReplyText.extract(label.text), sender: "reply@customer.example")
            total[label.language, default: 0] += 1
            var right = got.kind == label.kind
            if label.kind == .referral {
                right =
                    right && Set(got.referrals.compactMap(\.email)) == Set(label.emails) && Set(got.referrals.compactMap(\.name)) == Set(label.names)
            }
            if right {
                ok[label.language, default: 0] += 1
            } else {
                print("INTENT \(label.language.rawValue) expected \(label.kind.rawValue) got \(got.kind.rawValue) \(got.referrals): \(label.text)")
            }
            #expect((got.kind == .other) == (got.confidence == 0))
        }
        #expect(Self.report("intents", ok, total) >= 0.9)
    }

    /// Every request found, and nothing else flagged: an unsubscribe suppresses the contact.
    @Test func unsubscribeRequests() {
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        for label in intentLabels {
            let wanted = label.kind == .unsubscribeRequest
            let got = Unsubscribe.isRequested(ReplyText.extract(label.text))
            total[label.language, default: 0] += 1
            if got == wanted { ok[label.language, default: 0] += 1 } else { print("UNSUBSCRIBE expected \(wanted): \(label.text)") }
            #expect(got == wanted, "\(label.text)")
        }
        _ = Self.report("unsubscribe", ok, total)
    }

    @Test func signaturesRemovedExactly() {
        #expect(signatureLabels.count >= 30)
        var ok: [ReplyLanguage: Int] = [:]
        var total: [ReplyLanguage: Int] = [:]
        for label in signatureLabels {
            let got = Signature.split(label.text)
            total[label.language, default: 0] += 1
            if got.body == label.body {
                ok[label.language, default: 0] += 1
            } else {
                print("SIGNATURE got \(got.body.debugDescription) for \(label.text.debugDescription)")
            }
            #expect(got.body == label.body)
            // Nothing is lost: body and signature together are the text.
            #expect(got.signature.isEmpty || label.text.contains(got.signature))
        }
        #expect(Self.report("signatures", ok, total) == 1)
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
