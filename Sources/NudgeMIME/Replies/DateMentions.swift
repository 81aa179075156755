import Foundation

/// One date expression found in a sentence, already resolved to a calendar day.
struct DateMention {
    enum Kind {
        /// Day and month written out or numeric: a date on its own.
        case full
        /// A bare day ("the 14th"), a weekday or "tomorrow": a date only next to a cue word.
        case weak
        /// "in two weeks", "for 3 days": the day the absence ends.
        case duration
        /// "July 10-31": the last day of a period written as one expression.
        case periodEnd
        /// "next week", "this week": its Monday; away that week means back the Monday after.
        case week
    }

    var range: NSRange
    var day: CalendarDay
    var kind: Kind
}

/// What a date is resolved against: the message's day, and how its sender writes numeric dates.
struct DateContext {
    var sent: CalendarDay
    /// "12/14" is December 14 (US English); otherwise day first.
    var monthFirst: Bool

    /// The first occurrence of month/day on or after the message day.
    func next(month: Int, day: Int) -> CalendarDay? {
        // Four years ahead at most: 29 February.
        for year in sent.year...(sent.year + 4) {
            if let d = CalendarDay.valid(year: year, month: month, day: day), d >= sent { return d }
        }
        return nil
    }

    func dated(year: String?, month: Int, day: Int) -> CalendarDay? {
        guard let year, var y = Int(year) else { return next(month: month, day: day) }
        if y < 100 { y += 2000 }
        return CalendarDay.valid(year: y, month: month, day: day)
    }
}

/// Finds date expressions in lowercased text. Patterns run in order; a later match that
/// overlaps an earlier one is dropped (so "monday 14 december" is one date, not two).
enum DateMentions {
    static func scan(_ s: String, _ ctx: DateContext) -> [DateMention] {
        let ns = s as NSString
        var found: [DateMention] = []
        func add(_ r: NSRange, _ day: CalendarDay?, _ kind: DateMention.Kind) {
            guard let day, !found.contains(where: { NSIntersectionRange($0.range, r).length > 0 }) else { return }
            found.append(DateMention(range: r, day: day, kind: kind))
        }
        for (re, resolve) in patterns {
            for m in re.matches(in: s, range: NSRange(location: 0, length: ns.length)) {
                let g: (Int) -> String? = { i in m.range(at: i).location == NSNotFound ? nil : ns.substring(with: m.range(at: i)) }
                if let (day, kind) = resolve(g, ctx) { add(m.range, day, kind) }
            }
        }
        return found.sorted { $0.range.location < $1.range.location }
    }

    typealias Resolver = @Sendable (_ group: (Int) -> String?, _ ctx: DateContext) -> (CalendarDay, DateMention.Kind)?

    private static func alternation<S: Sequence>(_ words: S) -> String where S.Element == String {
        words.sorted { $0.count > $1.count }.map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
    }
    private static let month = alternation(DateLexicon.months.keys)
    private static let weekday = alternation(DateLexicon.weekdays.keys)
    private static let anyWeekday = alternation(Array(DateLexicon.weekdays.keys) + DateLexicon.weekdayPrefixes)
    private static let ordinal = #"(?:st|nd|rd|th|er|ème|e|º|°|:e|:a)"#
    private static let wdPrefix = "(?:(?:\(anyWeekday))\\.?,?\\s+)?"

    private static func re(_ p: String) -> NSRegularExpression { try! NSRegularExpression(pattern: p, options: [.caseInsensitive]) }

    private static let patterns: [(NSRegularExpression, Resolver)] = [
        // 2026-12-14
        (
            re(#"(?<![\d.])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"#),
            { g, _ in CalendarDay.valid(year: Int(g(1)!)!, month: Int(g(2)!)!, day: Int(g(3)!)!).map { ($0, .full) } }
        ),
        // 14.12., 14.12.2026, 12/14, 14/12/26
        (
            re("(?<![\\d./:\\p{L}])\(wdPrefix)(\\d{1,2})([./])(\\d{1,2})(?:\\2(\\d{4}|\\d{2}))?(?![\\d:]|[./]\\d|\\s*(?:uhr|h\\b|am\\b|pm\\b))"),
            { g, ctx in numeric(Int(g(1)!)!, Int(g(3)!)!, year: g(4), dotted: g(2) == ".", ctx).map { ($0, .full) } }
        ),
        // 14-12-2026
        (
            re(#"(?<![\d.])(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})(?!\d)"#),
            { g, ctx in ctx.dated(year: g(3), month: Int(g(2)!)!, day: Int(g(1)!)!).map { ($0, .full) } }
        ),
        // 14 December, 14. Dezember 2026, lundi 14 décembre, 14 de diciembre de 2026
        (
            re(
                "(?<![\\d.\\p{L}])\(wdPrefix)(?:(?:the|den|dem|le|el|il|o|dia|o dia)\\s+)?(\\d{1,2})\(ordinal)?\\.?\\s*(?:of\\s+|de\\s+|di\\s+)?(\(month))(?!\\p{L})\\.?(?:,?\\s*(?:de\\s+)?(\\d{4}))?"
            ),
            { g, ctx in
                guard let mo = DateLexicon.months[g(2)!] else { return nil }
                return ctx.dated(year: g(3), month: mo, day: Int(g(1)!)!).map { ($0, .full) }
            }
        ),
        // July 10-31, December 7th to 11th
        (
            re(
                "(?<!\\p{L})(\(month))\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\s*(?:-|–|—|to|through|thru|until)\\s*(\\d{1,2})(?:st|nd|rd|th)?(?![\\d:\\p{L}])(?:,?\\s*(\\d{4}))?"
            ),
            { g, ctx in
                guard let mo = DateLexicon.months[g(1)!], let first = Int(g(2)!), let last = Int(g(3)!) else { return nil }
                let month = last < first ? mo % 12 + 1 : mo
                return ctx.dated(year: g(4), month: month, day: last).map { ($0, .periodEnd) }
            }
        ),
        // December 14th, 2026
        (
            re("(?<!\\p{L})\(wdPrefix)(\(month))\\.?\\s+(?:the\\s+)?(\\d{1,2})(?:st|nd|rd|th)?(?![\\d:\\p{L}])(?:,?\\s*(\\d{4}))?"),
            { g, ctx in
                guard let mo = DateLexicon.months[g(1)!] else { return nil }
                return ctx.dated(year: g(3), month: mo, day: Int(g(2)!)!).map { ($0, .full) }
            }
        ),
        // the 14th, zum 14., le 14, Monday the 14th: a day of this or next month
        (
            re(
                "(?<![\\p{L}\\d])(?:(?:\(weekday)),?\\s+)?(?:(the|dem|den|zum|am|le|el|al|il|dal|del|au|dia|o dia)\\s+)?(\\d{1,2})(\(ordinal)|\\.)?(?![\\d:/\\p{L}]|\\.\\d)"
            ),
            { g, ctx in
                guard g(1) != nil || g(3) != nil, let d = Int(g(2)!) else { return nil }
                return dayOfMonth(d, ctx).map { ($0, .weak) }
            }
        ),
        // Monday, lundi prochain: the next such day after the message
        (
            re("(?<!\\p{L})(\(weekday))(?![\\p{L}-])"),
            { g, ctx in
                guard let w = DateLexicon.weekdays[g(1)!] else { return nil }
                let ahead = (w - ctx.sent.weekday + 7) % 7
                return (ctx.sent.adding(days: ahead == 0 ? 7 : ahead), .weak)
            }
        ),
        // in two weeks, for 3 days
        (
            re(
                "(?<!\\p{L})(?:in|for|für|pour|dans|por|durante|en|tra|fra|per|over|voor|em|daqui a|om|i|während|pendant)\\s+(?:(?:the\\s+next|the\\s+coming|den\\s+nächsten|les\\s+prochaines|las\\s+próximas|los\\s+próximos|le\\s+prossime|i\\s+prossimi|de\\s+komende|as\\s+próximas|os\\s+próximos|de\\s+närmaste|de\\s+kommande)\\s+)?(\\d{1,2}|"
                    + alternation(DateLexicon.numbers.keys) + ")\\s+(" + alternation(DateLexicon.units.keys) + ")(?!\\p{L})"),
            { g, ctx in
                guard let n = Int(g(1)!) ?? DateLexicon.numbers[g(1)!], let u = DateLexicon.units[g(2)!] else { return nil }
                return (ctx.sent.adding(days: n * u), .duration)
            }
        ),
        // "until the end of next week": the Friday is the last day away.
        (
            re("(?<!\\p{L})(?:" + alternation(DateLexicon.endOfNextWeek) + ")(?!\\p{L})"),
            { _, ctx in (ctx.sent.adding(days: 12 - ctx.sent.weekday), .periodEnd) }
        ),
        (
            re("(?<!\\p{L})(?:" + alternation(DateLexicon.endOfThisWeek) + ")(?!\\p{L})"),
            { _, ctx in ctx.sent.weekday <= 5 ? (ctx.sent.adding(days: 5 - ctx.sent.weekday), .periodEnd) : nil }
        ),
        (re("(?<!\\p{L})(?:" + alternation(DateLexicon.today) + ")(?!\\p{L})"), { _, ctx in (ctx.sent, .weak) }),
        (re("(?<!\\p{L})(?:" + alternation(DateLexicon.tomorrow) + ")(?!\\p{L})"), { _, ctx in (ctx.sent.adding(days: 1), .weak) }),
        (
            re("(?<!\\p{L})(?:" + alternation(DateLexicon.nextWeek) + ")(?!\\p{L})"),
            { _, ctx in (ctx.sent.adding(days: 8 - ctx.sent.weekday), .week) }
        ),
        (
            re("(?<!\\p{L})(?:" + alternation(DateLexicon.thisWeek) + ")(?!\\p{L})"),
            { _, ctx in (ctx.sent.adding(days: 1 - ctx.sent.weekday), .week) }
        ),
    ]

    /// Day and month from "a.b" or "a/b": dotted forms are always day first; slashed forms follow
    /// the sender's convention unless only one reading is a valid date.
    static func numeric(_ a: Int, _ b: Int, year: String?, dotted: Bool, _ ctx: DateContext) -> CalendarDay? {
        let dayFirst = ctx.dated(year: year, month: b, day: a)
        if dotted { return dayFirst }
        let monthFirst = ctx.dated(year: year, month: a, day: b)
        switch (dayFirst, monthFirst) {
        case (let d?, let m?):
            // The convention decides, unless its reading is months away and the other one is days away.
            let (usual, other) = ctx.monthFirst ? (m, d) : (d, m)
            let ahead = { (c: CalendarDay) in c.daysSinceEpoch - ctx.sent.daysSinceEpoch }
            return ahead(usual) > 180 && ahead(other) >= 0 && ahead(other) <= 60 ? other : usual
        case (let d?, nil): return d
        case (nil, let m?): return m
        default: return nil
        }
    }

    static func dayOfMonth(_ d: Int, _ ctx: DateContext) -> CalendarDay? {
        var y = ctx.sent.year
        var m = ctx.sent.month
        for _ in 0..<3 {
            if let c = CalendarDay.valid(year: y, month: m, day: d), c >= ctx.sent { return c }
            m += 1
            if m > 12 {
                m = 1
                y += 1
            }
        }
        return nil
    }
}
