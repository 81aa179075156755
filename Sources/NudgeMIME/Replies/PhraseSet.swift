import Foundation

/// A list of phrase patterns asked one question: does any of them match? ICU tries every
/// alternative of one large alternation at every position of the text, so receiving a reply
/// cost more in these rules than in everything else it does. Here each pattern is compiled on
/// its own with the literal text it cannot match without (found by `Anchor.required`); only
/// the patterns whose literal occurs in the text are run.
struct PhraseSet: Sendable {
    struct Rule: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe.
        /// The pattern matches only text containing one of these (UTF-8); empty: always run.
        let anchors: [[UInt8]]
        let re: NSRegularExpression
    }

    let rules: [Rule]
    /// The patterns as one alternation, as they were matched before: the reference the tests
    /// compare with.
    let combined: String

    /// - Parameters:
    ///   - alternatives: patterns for lowercased text (matched case-sensitively).
    ///   - before, after: what each pattern is wrapped in (word boundaries).
    init(_ alternatives: [String], before: String = "(?<!\\p{L})", after: String = "(?!\\p{L})") {
        rules = alternatives.map { p in
            Rule(anchors: (Anchor.required(p) ?? []).map { Array($0.utf8) }, re: try! NSRegularExpression(pattern: before + "(?:" + p + ")" + after))
        }
        combined = before + "(?:" + alternatives.joined(separator: "|") + ")" + after
    }

    /// Whether any pattern matches `text` (lowercased by the caller).
    func matches(_ text: String) -> Bool {
        let range = NSRange(location: 0, length: (text as NSString).length)
        return candidates(text).contains { $0.re.firstMatch(in: text, range: range) != nil }
    }

    /// The match the whole alternation would find: the leftmost, and at one position the
    /// earliest pattern in the list.
    func firstMatch(_ text: String) -> NSRange? {
        let range = NSRange(location: 0, length: (text as NSString).length)
        var best: NSRange?
        for rule in candidates(text) {
            guard let hit = rule.re.firstMatch(in: text, range: range)?.range else { continue }
            if best == nil || hit.location < best!.location { best = hit }
        }
        return best
    }

    /// The rules whose literal occurs in `text`, in list order.
    private func candidates(_ text: String) -> [Rule] {
        var bytes = text
        return bytes.withUTF8 { bytes in
            rules.filter { rule in rule.anchors.isEmpty || rule.anchors.contains { ByteSearch.occurs($0, in: bytes) } }
        }
    }
}

/// The literal text a pattern cannot match without.
enum Anchor {
    /// Literals at least one of which is in every text the pattern matches; nil when none is
    /// certain (the pattern is then always run). Conservative: any construct it does not know
    /// ends a literal rather than extending it.
    static func required(_ pattern: String) -> [String]? {
        var p = Parser(Array(pattern))
        return p.alternation()
    }

    private struct Parser {
        let p: [Character]
        var i = 0

        init(_ p: [Character]) { self.p = p }

        /// Branches up to the end or an unmatched `)`: each branch must give a literal.
        mutating func alternation() -> [String]? {
            var all: [String] = []
            var certain = true
            while true {
                if let lits = branch() { all += lits } else { certain = false }
                guard i < p.count, p[i] == "|" else { break }
                i += 1
            }
            return certain && !all.isEmpty ? Array(Set(all)).sorted() : nil
        }

        private enum Atom {
            case char(Character)
            case group([String]?)
            case other
        }

        /// One branch: its best required literal, or the best group's set of literals.
        private mutating func branch() -> [String]? {
            var candidates: [[String]] = []
            var run = ""
            func close() {
                if !run.isEmpty { candidates.append([run]) }
                run = ""
            }
            while i < p.count, p[i] != "|", p[i] != ")" {
                let atom = self.atom()
                let (optional, repeated) = quantifier()
                switch atom {
                case .char(let c):
                    if optional {
                        close()
                    } else {
                        run.append(c)
                        if repeated { close() }
                    }
                case .group(let lits):
                    close()
                    if !optional, let lits { candidates.append(lits) }
                case .other:
                    close()
                }
            }
            close()
            // The candidate whose shortest literal is longest is the most selective.
            return candidates.max { a, b in
                let (x, y) = (a.map(\.utf8.count).min() ?? 0, b.map(\.utf8.count).min() ?? 0)
                return x < y || (x == y && a.count > b.count)
            }
        }

        private mutating func atom() -> Atom {
            let c = p[i]
            i += 1
            switch c {
            case "\\":
                guard i < p.count else { return .other }
                let e = p[i]
                i += 1
                if e == "p" || e == "P" {
                    if i < p.count, p[i] == "{" {
                        while i < p.count, p[i] != "}" { i += 1 }
                    }
                    i += 1
                    return .other
                }
                return e.isLetter || e.isNumber ? .other : .char(e)
            case "[":
                if i < p.count, p[i] == "^" { i += 1 }
                if i < p.count, p[i] == "]" { i += 1 }
                while i < p.count, p[i] != "]" { i += p[i] == "\\" ? 2 : 1 }
                i += 1
                return .other
            case "(":
                var lookaround = false
                if i < p.count, p[i] == "?" {
                    let rest = String(p[i..<min(i + 3, p.count)])
                    lookaround = rest.hasPrefix("?=") || rest.hasPrefix("?!") || rest.hasPrefix("?<=") || rest.hasPrefix("?<!")
                    if rest.hasPrefix("?:") { i += 2 } else if lookaround { i += rest.hasPrefix("?<") ? 3 : 2 } else { return unknownGroup() }
                }
                let lits = alternation()
                guard i < p.count, p[i] == ")" else { return .other }
                i += 1
                return lookaround ? .other : .group(lits)
            case ".", "^", "$", "|", ")":
                return .other
            default:
                return .char(c)
            }
        }

        /// A group kind not understood: skipped, giving nothing.
        private mutating func unknownGroup() -> Atom {
            var depth = 1
            while i < p.count, depth > 0 {
                if p[i] == "\\" {
                    i += 2
                    continue
                }
                if p[i] == "(" { depth += 1 }
                if p[i] == ")" { depth -= 1 }
                i += 1
            }
            return .other
        }

        /// Reads a quantifier after an atom: whether the atom may be absent, and whether it may repeat.
        private mutating func quantifier() -> (optional: Bool, repeated: Bool) {
            guard i < p.count else { return (false, false) }
            var result: (Bool, Bool)
            switch p[i] {
            case "?": result = (true, false)
            case "*": result = (true, true)
            case "+": result = (false, true)
            case "{":
                var j = i + 1
                var digits = ""
                while j < p.count, p[j].isNumber {
                    digits.append(p[j])
                    j += 1
                }
                guard j < p.count, p[j] == "," || p[j] == "}", !digits.isEmpty else { return (false, false) }
                while j < p.count, p[j] != "}" { j += 1 }
                i = j
                result = (Int(digits) == 0, true)
            default: return (false, false)
            }
            i += 1
            if i < p.count, p[i] == "?" || p[i] == "+" { i += 1 }
            return result
        }
    }
}
