import Foundation

/// RFC 5322 date parsing, tolerant of the obsolete forms real mailers send
/// (missing weekday/seconds, 2-digit years, named zones, trailing comments, odd spacing).
public enum MailDate {
    public static func parse(_ value: String) -> Date? {
        var cleaned = ""
        var depth = 0
        for ch in value.prefix(200) {  // drop comments such as "(PDT)"
            if ch == "(" { depth += 1 } else if ch == ")" { depth = max(0, depth - 1) } else if depth == 0 { cleaned.append(ch) }
        }
        let tokens = cleaned.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var h = 0
        var m = 0
        var s = 0
        var offset = 0
        var haveTime = false
        for t in tokens {
            let lower = t.lowercased()
            if month == nil, let mi = months.firstIndex(where: { lower.hasPrefix($0) }) {
                month = mi + 1
                continue
            }
            if t.contains(":") && !haveTime {
                let p = t.split(separator: ":").map { Int($0) }
                guard p.count >= 2, let hh = p[0], let mm = p[1] else { continue }
                h = hh
                m = mm
                s = p.count > 2 ? (p[2] ?? 0) : 0
                haveTime = true
                continue
            }
            if (t.hasPrefix("+") || t.hasPrefix("-")) && t.count == 5, let z = Int(t.dropFirst()) {
                offset = (t.hasPrefix("-") ? -1 : 1) * ((z / 100) * 3600 + (z % 100) * 60)
                continue
            }
            if let z = zones[lower] {
                offset = z * 3600
                continue
            }
            if let n = Int(t) {
                if day == nil && n >= 1 && n <= 31 && t.count <= 2 {
                    day = n
                } else if year == nil {
                    year = n < 50 ? 2000 + n : (n < 1000 ? 1900 + n : n)
                }
            }
        }
        guard let d = day, let mo = month, let y = year, (1...9999).contains(y), h < 24, m < 60, s < 61 else { return nil }
        let days = daysFromCivil(y, mo, d)
        let seconds = Double(days) * 86400 + Double(h * 3600 + m * 60 + s) - Double(offset)
        return Date(timeIntervalSince1970: seconds)
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
        "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "jst": 9, "cet": 1, "cest": 2, "bst": 1,
    ]

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
