/// HTML -> readable plain text: drops tags, comments, scripts and styles, decodes entities,
/// turns block elements into line breaks and collapses HTML whitespace. Single linear pass.
public enum HTMLText {
    public static func toText(_ html: String) -> String {
        let s = Array(html.unicodeScalars)
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        var i = 0
        var preDepth = 0
        var noTagUntil = 0  // after a failed tag scan, treat "<" as text up to where it stopped (keeps this linear)
        // A <blockquote> is quoted history: its lines start with "> " as in a plain-text reply,
        // so that ReplyText leaves it out of the reply's new text.
        var quoteDepth = 0
        func lineStart() {
            guard quoteDepth > 0, out.isEmpty || out.last == "\n" else { return }
            for _ in 0..<quoteDepth { out.append(contentsOf: "> ".unicodeScalars) }
        }
        var outlookLine = false  // inside a `<p class=MsoNormal>`
        func trimSpaces() { while let last = out.last, last == " " { out.removeLast() } }
        /// After a line break: makes it a blank line (at most one).
        func blankLine() {
            guard !out.isEmpty, out.last == "\n" else { return }
            let last2 = out.index(before: out.endIndex)
            if last2 == out.startIndex || out[out.index(before: last2)] != "\n" { out.append("\n") }
        }
        func newline(_ count: Int) {
            pendingSpace = false
            trimSpaces()
            if out.isEmpty { return }
            var existing = 0
            for c in out.reversed() { if c == "\n" { existing += 1 } else { break } }
            while existing < count {
                out.append("\n")
                existing += 1
            }
        }
        while i < s.count {
            let c = s[i]
            if c == "<" {
                // Comments / doctype / CDATA.
                if hasPrefix(s, i, "<!--") {
                    i = find(s, i + 4, "-->").map { $0 + 3 } ?? s.count
                    continue
                }
                if i + 1 < s.count && (s[i + 1] == "!" || s[i + 1] == "?") {
                    i = find(s, i, ">").map { $0 + 1 } ?? s.count
                    continue
                }
                let close = i >= noTagUntil ? findTagEnd(s, i + 1) : nil
                if close == nil, i >= noTagUntil, i + 1 < s.count, s[i + 1] == "/" || s[i + 1].properties.isAlphabetic {
                    noTagUntil = min(s.count, i + 2001)
                }
                if let close {
                    let (name, isEnd) = tagName(s, i + 1, close)
                    let tagStart = i
                    i = close + 1
                    if !isEnd, name == "script" || name == "style" || name == "head" || name == "title" {
                        // Skip to the matching end tag (case-insensitive); an unclosed <head> ends at <body>.
                        let end = findCI(s, i, "</" + name) ?? (name == "head" ? findCI(s, i, "<body") : nil)
                        i = end.map { j in find(s, j, ">").map { $0 + 1 } ?? s.count } ?? s.count
                        continue
                    }
                    if name == "pre" { preDepth = max(0, preDepth + (isEnd ? -1 : 1)) }
                    if name == "blockquote" { quoteDepth = max(0, quoteDepth + (isEnd ? -1 : 1)) }
                    if name == "br" {
                        pendingSpace = false
                        trimSpaces()
                        out.append("\n")
                        removeTripleBreaks(&out)
                        continue
                    }
                    // Outlook writes each line as a `<p class=MsoNormal>` with no margin, and a blank
                    // line as one holding only "&nbsp;": lines, as its own text part has them.
                    if name == "p", isEnd ? outlookLine : tagContains(s, tagStart, close, "msonormal") {
                        if !isEnd {
                            outlookLine = true
                            newline(1)
                        } else {
                            outlookLine = false
                            trimSpaces()
                            let blank = out.last == "\n"  // only "&nbsp;" or nothing since the line began
                            newline(1)
                            if blank { blankLine() }
                        }
                        continue
                    }
                    if paragraphTags.contains(name) {
                        newline(2)
                        continue
                    }
                    if blockTags.contains(name) {
                        newline(1)
                        if name == "li" && !isEnd {
                            lineStart()
                            out.append(contentsOf: "- ".unicodeScalars)
                        }
                        continue
                    }
                    if name == "td" || name == "th" { pendingSpace = true }
                    continue
                }
                // Not a tag: a literal "<", handled as text below.
            }
            if c == "&", let (decoded, next) = entity(s, i) {
                if pendingSpace && !out.isEmpty && out.last != "\n" { out.append(" ") }
                pendingSpace = false
                lineStart()
                out.append(contentsOf: decoded.unicodeScalars)
                i = next
                continue
            }
            if preDepth == 0 && (c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}") {
                pendingSpace = true
                i += 1
                continue
            }
            if pendingSpace && !out.isEmpty && out.last != "\n" { out.append(" ") }
            pendingSpace = false
            lineStart()
            out.append(c)
            i += 1
        }
        // Trim each line's trailing spaces and the whole text.
        return String(out).split(separator: "\n", omittingEmptySubsequences: false)
            .map { line -> Substring in
                var l = line
                while l.last == " " || l.last == "\u{A0}" { l = l.dropLast() }
                return l
            }
            .joined(separator: "\n").trimmed
    }

    /// `<br>` emits exactly one break; clean up any run longer than 2 it created.
    private static func removeTripleBreaks(_ out: inout String.UnicodeScalarView) {
        var n = 0
        for c in out.reversed() { if c == "\n" { n += 1 } else { break } }
        while n > 2 {
            out.removeLast()
            n -= 1
        }
    }

    private static let paragraphTags: Set<String> = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "table", "ul", "ol"]
    private static let blockTags: Set<String> = [
        "div", "li", "tr", "dd", "dt", "section", "article", "header", "footer", "address", "center", "form", "tbody", "thead", "dl", "body", "html",
    ]

    private static func hasPrefix(_ s: [Unicode.Scalar], _ i: Int, _ p: String) -> Bool {
        var j = i
        for c in p.unicodeScalars {
            guard j < s.count, s[j] == c else { return false }
            j += 1
        }
        return true
    }
    private static func find(_ s: [Unicode.Scalar], _ from: Int, _ p: String) -> Int? {
        let first = p.unicodeScalars.first!
        var i = from
        while i < s.count {
            if s[i] == first && hasPrefix(s, i, p) { return i }
            i += 1
        }
        return nil
    }
    private static func findCI(_ s: [Unicode.Scalar], _ from: Int, _ p: String) -> Int? {
        let lp = Array(p.lowercased().unicodeScalars)
        var i = from
        outer: while i + lp.count <= s.count {
            for k in 0..<lp.count where lower(s[i + k]) != lp[k] {
                i += 1
                continue outer
            }
            return i
        }
        return nil
    }
    /// Whether the tag `s[from..<end]` contains `p` (lowercase ASCII), in any case.
    private static func tagContains(_ s: [Unicode.Scalar], _ from: Int, _ end: Int, _ p: String) -> Bool {
        let lp = Array(p.unicodeScalars)
        guard end - from >= lp.count else { return false }
        outer: for i in from...(end - lp.count) {
            for k in 0..<lp.count where lower(s[i + k]) != lp[k] { continue outer }
            return true
        }
        return false
    }
    private static func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
        (c.value >= 65 && c.value <= 90) ? Unicode.Scalar(c.value + 32)! : c
    }
    /// End of a tag (">" outside quoted attribute values), or nil if this "<" is not a tag.
    private static func findTagEnd(_ s: [Unicode.Scalar], _ from: Int) -> Int? {
        guard from < s.count, s[from] == "/" || s[from].properties.isAlphabetic else { return nil }
        var quote: Unicode.Scalar? = nil
        var i = from
        while i < s.count && i - from < 2000 {
            let c = s[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == ">" { return i }
            i += 1
        }
        return nil
    }
    private static func tagName(_ s: [Unicode.Scalar], _ from: Int, _ end: Int) -> (String, Bool) {
        var i = from
        let isEnd = s[i] == "/"
        if isEnd { i += 1 }
        var name = ""
        while i < end, s[i].properties.isAlphabetic || ("0"..."9").contains(s[i]) || s[i] == ":" {
            name.unicodeScalars.append(lower(s[i]))
            i += 1
        }
        return (name, isEnd)
    }

    private static let named: [String: String] = [
        "nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "copy": "©", "reg": "®",
        "trade": "™", "mdash": "—", "ndash": "–", "hellip": "…", "laquo": "«", "raquo": "»", "lsquo": "‘",
        "rsquo": "’", "ldquo": "“", "rdquo": "”", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢",
        "bull": "•", "middot": "·", "deg": "°", "times": "×", "shy": "", "zwnj": "", "zwj": "",
    ]
    /// Decodes "&name;", "&#NN;", "&#xHH;" at `i`; nil if not an entity.
    private static func entity(_ s: [Unicode.Scalar], _ i: Int) -> (String, Int)? {
        var j = i + 1
        var body = ""
        while j < s.count && j - i <= 10 && s[j] != ";" {
            body.unicodeScalars.append(s[j])
            j += 1
        }
        guard j < s.count, s[j] == ";", !body.isEmpty else { return nil }
        if body.hasPrefix("#") {
            let num = body.dropFirst()
            let v = (num.hasPrefix("x") || num.hasPrefix("X")) ? UInt32(num.dropFirst(), radix: 16) : UInt32(num)
            guard let v, let scalar = Unicode.Scalar(v) else { return nil }
            return (v == 0xA0 ? " " : String(Character(scalar)), j + 1)
        }
        guard let d = named[body] ?? named[body.lowercased()] else { return nil }
        return (d, j + 1)
    }
}
