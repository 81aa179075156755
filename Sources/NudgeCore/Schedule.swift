import Foundation

/// Send windows and daily limits, in local time. Calendar arithmetic in the zone keeps the
/// window right across daylight-saving changes (a 09:00 opening stays 09:00 local).
public enum ScheduleMath {
    /// "HH:MM" to minutes after midnight; "24:00" is allowed as an end.
    public static func minutes(_ s: String) -> Int? {
        let p = s.split(separator: ":")
        guard p.count == 2, p[0].count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]),
            (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    package static func calendar(_ tz: TimeZone) -> Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = tz
        return c
    }

    /// The earliest instant at or after `t` that falls inside `window` in `tz`.
    public static func nextOpening(atOrAfter t: Date, window: SendWindow?, timeZone tz: TimeZone) -> Date {
        guard let window, let start = minutes(window.start), let end = minutes(window.end) else { return t }
        let cal = calendar(tz)
        let today = cal.startOfDay(for: t)
        for offset in 0...8 {
            guard let day = cal.date(byAdding: .day, value: offset, to: today) else { continue }
            let weekday = cal.component(.weekday, from: day)  // 1 = Sunday
            guard window.days.contains(SendWindow.dayNames[weekday - 1]) else { continue }
            let open = at(minutes: start, on: day, cal)
            let close = at(minutes: end, on: day, cal)
            if t < open { return open }
            if t < close { return t }
        }
        return t
    }

    package static func at(minutes: Int, on day: Date, _ cal: Calendar) -> Date {
        var c = cal.dateComponents([.year, .month, .day], from: day)
        c.hour = minutes / 60
        c.minute = minutes % 60
        if minutes == 1440 {
            c.hour = 23
            c.minute = 59
            c.second = 59
        }
        return cal.date(from: c) ?? day
    }

    /// The inbox-local calendar day of `t`, as PostgreSQL `date` text.
    public static func localDay(_ t: Date, _ tz: TimeZone) -> String {
        let c = calendar(tz).dateComponents([.year, .month, .day], from: t)
        // Not String(format:): it was most of this function's cost, called for every step a batch counts.
        func digits(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(digits(c.year!, 4))-\(digits(c.month!, 2))-\(digits(c.day!, 2))"
    }

    /// Whole days from one "YYYY-MM-DD" to another (0 when either is malformed).
    public static func daysBetween(_ from: String, _ to: String) -> Int {
        guard let a = day(from), let b = day(to) else { return 0 }
        return calendar(.gmt).dateComponents([.day], from: a, to: b).day ?? 0
    }

    /// The UTC midnight starting a "YYYY-MM-DD" day; nil unless it is one (2026-02-30 is not).
    public static func day(_ s: String) -> Date? {
        let p = s.split(separator: "-", omittingEmptySubsequences: false)
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2,
            let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2])
        else { return nil }
        let cal = calendar(.gmt)
        guard let date = cal.date(from: DateComponents(year: y, month: m, day: d)) else { return nil }
        let back = cal.dateComponents([.year, .month, .day], from: date)
        guard back.year == y, back.month == m, back.day == d else { return nil }
        return date
    }

    /// Start of the next local day: when a daily limit is reached, the overflow waits for it.
    public static func startOfNextDay(after t: Date, _ tz: TimeZone) -> Date {
        let cal = calendar(tz)
        return cal.date(byAdding: .day, value: 1, to: cal.startOfDay(for: t)) ?? t.addingTimeInterval(86_400)
    }
}
