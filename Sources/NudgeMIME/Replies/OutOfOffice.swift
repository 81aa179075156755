import Foundation

/// Reads absence notices: when is the person back?
public enum OutOfOffice {
    /// The first working day the sender is back, and the sentence that says so.
    public struct ReturnDate: Sendable, Hashable {
        public var date: CalendarDay
        public var sentence: String
        public var language: ReplyLanguage
    }

    /// The return date stated in an absence notice, or nil when it names none.
    ///
    /// - Parameters:
    ///   - subject: the notice's subject; only dates with a cue word count there, because it
    ///     usually repeats the original subject ("Automatic reply: Call on 9 December").
    ///   - text: the notice's text (HTML is converted, quoted history removed here).
    ///   - sent: the notice's `Date` header: dates without a year are the next such day after it.
    ///   - timeZone: the recipient's zone, for the message's day and for US-style "12/14".
    public static func returnDate(subject: String, text: String, sent: Date, timeZone: TimeZone) -> ReturnDate? {
        // Callers may pass an HTML part as it came; tags would hide the words around a date.
        let readable =
            text.range(of: #"<(?:p|br|div|span|b|td|table|html|body)[\s/>]"#, options: [.regularExpression, .caseInsensitive]) != nil
            ? HTMLText.toText(text) : text
        // A notice says when the person is back in its first paragraphs; the cap bounds the work.
        let body = String(ReplyText.extract(readable).prefix(20_000))
        let language = ReplyLanguage.detect(subject + "\n" + body)
        let ctx = DateContext(
            sent: CalendarDay(sent, in: timeZone),
            monthFirst: language == .en && ["America/", "US/", "Pacific/Honolulu"].contains { timeZone.identifier.hasPrefix($0) })
        var best: (rank: (Int, Int), day: CalendarDay, sentence: String)?
        for (source, minimum) in [(body, 1), (subject, 6)] {
            for sentence in ReturnSentences.split(source) {
                for c in ReturnCues.candidates(in: sentence, ctx)
                where c.score >= minimum && c.day >= ctx.sent && c.day.daysSinceEpoch - ctx.sent.daysSinceEpoch <= 400 {
                    let rank = (c.full ? 1 : 0, c.score)
                    if best == nil || rank > best!.rank { best = (rank, c.day, sentence) }
                }
            }
        }
        return best.map { ReturnDate(date: $0.day, sentence: $0.sentence, language: language) }
    }

    /// The same for a parsed message; nil without a `Date` header.
    public static func returnDate(of message: InboundMessage, timeZone: TimeZone) -> ReturnDate? {
        guard let date = message.date else { return nil }
        return returnDate(subject: message.subject, text: message.text, sent: date, timeZone: timeZone)
    }
}

/// Sentences of a notice: paragraphs with wrapped lines joined, cut after sentence punctuation
/// followed by a capital that does not start a month name.
enum ReturnSentences {
    // "14. Dezember" and "vom 7. bis 11. Dezember" are not sentence ends; "July 10-31. During" is.
    private static let boundary = try! NSRegularExpression(
        pattern: "(?<=[.!?])\\s+(?=[\\p{Lu}\"“])(?!(?i:" + DateLexicon.months.keys.sorted { $0.count > $1.count }.joined(separator: "|")
            + ")(?!\\p{L}))")

    static func split(_ text: String) -> [String] {
        var out: [String] = []
        for paragraph in text.normalizedLineEndings.components(separatedBy: "\n\n") {
            let joined = paragraph.split(separator: "\n").map { String($0).trimmed }.filter { !$0.isEmpty }.joined(separator: " ")
            let ns = joined as NSString
            var start = 0
            for m in boundary.matches(in: joined, range: NSRange(location: 0, length: ns.length)) {
                out.append(ns.substring(with: NSRange(location: start, length: m.range.location - start)))
                start = m.range.location + m.range.length
            }
            out.append(ns.substring(from: start))
        }
        return out.map { $0.trimmed }.filter { !$0.isEmpty }
    }
}
