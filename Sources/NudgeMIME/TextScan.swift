import Foundation

/// Pattern scanners over free text, shared by the bounce and complaint parsers.
enum TextScan {
    /// Email addresses in order of appearance, with their UTF-16 offsets. Linear scan around "@".
    static func addresses(in text: String) -> [(address: String, offset: Int)] {
        let u = Array(text.utf16)
        var out: [(String, Int)] = []
        var i = 0
        var lastEnd = 0
        while i < u.count && out.count < 500 {
            guard u[i] == 64 /* @ */ else {
                i += 1
                continue
            }
            var s = i
            while s > lastEnd && isLocalChar(u[s - 1]) { s -= 1 }
            var e = i + 1
            while e < u.count && isDomainChar(u[e]) { e += 1 }
            while e > i + 1 && (u[e - 1] == 46 || u[e - 1] == 45) { e -= 1 }  // trailing "." or "-"
            while s < i && (u[s] == 46 || u[s] == 39 || u[s] == 61) { s += 1 }  // leading ".", "'", "="
            let domain = u[(i + 1)..<e]
            if s < i, domain.contains(46) {
                out.append((String(decoding: u[s..<e], as: UTF16.self), s))
                lastEnd = e
            }
            i = max(e, i + 1)
        }
        return out
    }

    private static func isLocalChar(_ c: UInt16) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || "._%+-=/'!#$&*?^`{|}~".utf16.contains(c)
    }
    private static func isDomainChar(_ c: UInt16) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 45
    }

    // Enhanced status code (RFC 3463) not embedded in an IP address or version number.
    private static let statusRegex = try! NSRegularExpression(pattern: #"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?!\d|\.\d)"#)
    // Basic SMTP reply code at a word boundary.
    private static let smtpCodeRegex = try! NSRegularExpression(pattern: #"(?<![\d.\-])[45]\d\d(?=[ \-])"#)

    static func firstStatus(in text: String) -> String? { firstMatch(statusRegex, text) }
    static func firstSMTPCode(in text: String) -> String? { firstMatch(smtpCodeRegex, text) }

    private static func firstMatch(_ re: NSRegularExpression, _ text: String) -> String? {
        let ns = text as NSString
        guard let m = re.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else { return nil }
        return ns.substring(with: m.range)
    }

    /// Text after a line starting with `name:` (case-insensitive), e.g. "Message-ID:" in inline headers.
    static func headerLineValue(_ name: String, in text: String) -> String? {
        let prefix = name.lowercased() + ":"
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let t = line.drop(while: { $0 == " " || $0 == "\t" })
            if t.count > prefix.count, t.prefix(prefix.count).lowercased() == prefix {
                return String(t.dropFirst(prefix.count)).trimmed
            }
        }
        return nil
    }
}
