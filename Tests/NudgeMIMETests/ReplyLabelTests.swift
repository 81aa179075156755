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
}
