import NudgeCore

/// Splits a SQL script into statements at top-level semicolons. PostgresNIO's extended protocol
/// runs one statement per query, so migration files are cut here, respecting quoted strings
/// ('…', E'…' with backslashes, "…"), dollar-quoted bodies ($$…$$, $tag$…$tag$) and comments
/// (-- and nested /* */).
public enum SQLSplitter {
    public static func split(_ sql: String) -> [String] {
        let s = Array(sql.unicodeScalars)
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        var hasCode = false

        func emit() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if hasCode && !text.isEmpty { out.append(text) }
            current = String.UnicodeScalarView()
            hasCode = false
        }
        func copy(_ from: Int, _ to: Int) { current.append(contentsOf: s[from..<min(to, s.count)]) }

        while i < s.count {
            let c = s[i]
            let next: Unicode.Scalar? = i + 1 < s.count ? s[i + 1] : nil
            switch c {
            case "-" where next == "-":
                var j = i
                while j < s.count && s[j] != "\n" { j += 1 }
                copy(i, j)
                i = j
            case "/" where next == "*":
                var depth = 0
                var j = i
                repeat {
                    if j + 1 < s.count && s[j] == "/" && s[j + 1] == "*" {
                        depth += 1
                        j += 2
                    } else if j + 1 < s.count && s[j] == "*" && s[j + 1] == "/" {
                        depth -= 1
                        j += 2
                    } else {
                        j += 1
                    }
                } while depth > 0 && j < s.count
                copy(i, j)
                i = j
            case "'", "\"":
                let backslashes = c == "'" && i > 0 && (s[i - 1] == "E" || s[i - 1] == "e")
                var j = i + 1
                while j < s.count {
                    if backslashes && s[j] == "\\" {
                        j += 2
                        continue
                    }
                    if s[j] == c {
                        if j + 1 < s.count && s[j + 1] == c {
                            j += 2
                            continue
                        }
                        break
                    }
                    j += 1
                }
                copy(i, j + 1)
                i = j + 1
                hasCode = true
            case "$":
                // A dollar quote is $tag$ where tag is empty or an identifier; $1 is a parameter.
                var j = i + 1
                while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || (j > i + 1 && ("0"..."9").contains(s[j])) { j += 1 }
                if j < s.count && s[j] == "$" {
                    let tag = Array(s[i...j])
                    var k = j + 1
                    var found = s.count
                    while k + tag.count <= s.count {
                        if s[k] == "$" && Array(s[k..<(k + tag.count)]) == tag {
                            found = k + tag.count
                            break
                        }
                        k += 1
                    }
                    copy(i, found)
                    i = found
                    hasCode = true
                } else {
                    current.append(c)
                    i += 1
                    hasCode = true
                }
            case ";":
                emit()
                i += 1
            default:
                if !c.properties.isWhitespace { hasCode = true }
                current.append(c)
                i += 1
            }
        }
        emit()
        return out
    }
}
