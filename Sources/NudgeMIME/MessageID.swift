/// Message-ID / In-Reply-To / References parsing. Ids are returned without angle brackets.
public enum MessageID {
    /// All ids in a header value. Bracketed ids win; without brackets, whitespace/comma separated
    /// tokens containing "@" are accepted (common junk from broken mailers). Comments are ignored.
    public static func parseList(_ value: String) -> [String] {
        var ids: [String] = []
        var cur: String? = nil
        var comment = 0
        for ch in value {
            if cur == nil && ch == "(" {
                comment += 1
                continue
            }
            if comment > 0 {
                if ch == ")" { comment -= 1 }
                continue
            }
            if ch == "<" {
                cur = ""
                continue
            }
            if ch == ">", let c = cur {
                let id = c.filter { !$0.isWhitespace }
                if !id.isEmpty && ids.count < 500 { ids.append(id) }
                cur = nil
                continue
            }
            cur?.append(ch)
        }
        if !ids.isEmpty { return ids }
        return value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: ["<", ">", "\"", "'"]) }
            .filter { $0.contains("@") }
            .prefix(500).map { String($0) }
    }

    /// The single id of a Message-ID header (first bracketed id, else the trimmed value).
    public static func parse(_ value: String) -> String? {
        if let first = parseList(value).first { return first }
        let t = value.trimmed
        return t.isEmpty ? nil : t
    }
}
