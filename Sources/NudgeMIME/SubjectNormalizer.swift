/// Normalizes subjects for thread matching: strips reply/forward prefixes in many languages
/// ("Re:", "RE[2]:", "Fwd:", "AW:", "SV:", "Antw:", "WG:", "Réf.:", ...) and "[list tags]",
/// repeatedly, then collapses whitespace and lowercases.
public enum SubjectNormalizer {
    /// Lowercased prefixes that mean reply/forward (checked before a ":" or "：").
    static let prefixes: Set<String> = [
        "re", "fw", "fwd", "aw", "sv", "vs", "antw", "antwort", "wg", "tr", "réf", "ref", "rif", "r", "rv", "enc",
        "odp", "pd", "ynt", "atb", "res", "vl", "vá", "πρθ", "απ", "σχετ", "回复", "转发", "답장", "전달", "fs", "doorst",
    ]

    public static func normalize(_ subject: String) -> String {
        var s = Substring(subject)
        var changed = true
        var rounds = 0
        while changed && rounds < 100 {
            changed = false
            rounds += 1
            s = s.drop(while: { $0.isWhitespace })
            if s.first == "[", let close = s.firstIndex(of: "]"), s.distance(from: s.startIndex, to: close) < 80 {
                s = s[s.index(after: close)...]
                changed = true
                continue
            }
            // Prefix word, optional "[n]" or "(n)" counter, optional "." then ":".
            var j = s.startIndex
            while j < s.endIndex, s[j].isLetter { j = s.index(after: j) }
            let word = s[s.startIndex..<j].lowercased()
            guard !word.isEmpty, prefixes.contains(word) else { continue }
            var k = j
            if k < s.endIndex, s[k] == "[" || s[k] == "(" {
                let closer: Character = s[k] == "[" ? "]" : ")"
                var m = s.index(after: k)
                while m < s.endIndex, s[m].isNumber { m = s.index(after: m) }
                if m < s.endIndex, s[m] == closer { k = s.index(after: m) }
            }
            if k < s.endIndex, s[k] == "." { k = s.index(after: k) }
            while k < s.endIndex, s[k] == " " { k = s.index(after: k) }
            if k < s.endIndex, s[k] == ":" || s[k] == "：" {
                s = s[s.index(after: k)...]
                changed = true
            }
        }
        return s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").lowercased()
    }
}
