/// A mailbox from an address header. `address` is the addr-spec as written (trimmed, without
/// angle brackets); it is empty for the null sender "<>".
public struct MailAddress: Sendable, Hashable {
    public var name: String?
    public var address: String

    public init(name: String?, address: String) {
        self.name = name
        self.address = address
    }

    /// Parses an address-list header value (raw, not RFC 2047-decoded): handles quoted names,
    /// comments, groups ("undisclosed-recipients:;"), bare addresses and junk without failing.
    public static func parseList(_ raw: String) -> [MailAddress] {
        var out: [MailAddress] = []
        for piece in splitTopLevel(raw) where out.count < 1000 {
            if let a = parseOne(piece) { out.append(a) }
        }
        return out
    }

    /// Splits on commas (and group ":"/";") outside quotes, comments and angle brackets.
    private static func splitTopLevel(_ s: String) -> [String] {
        var pieces: [String] = []
        var cur = ""
        var inQuote = false
        var comment = 0
        var angle = false
        var escaped = false
        for ch in s {
            if escaped {
                cur.append(ch)
                escaped = false
                continue
            }
            switch ch {
            case "\\" where inQuote || comment > 0:
                escaped = true
                cur.append(ch)
            case "\"" where comment == 0:
                inQuote.toggle()
                cur.append(ch)
            case "(" where !inQuote:
                comment += 1
                cur.append(ch)
            case ")" where !inQuote && comment > 0:
                comment -= 1
                cur.append(ch)
            case "<" where !inQuote && comment == 0:
                angle = true
                cur.append(ch)
            case ">" where !inQuote && comment == 0:
                angle = false
                cur.append(ch)
            case "," where !inQuote && comment == 0 && !angle, ";" where !inQuote && comment == 0 && !angle:
                pieces.append(cur)
                cur = ""
            case ":" where !inQuote && comment == 0 && !angle && !cur.contains("@"):
                cur = ""  // group name: drop it
            default: cur.append(ch)
            }
        }
        pieces.append(cur)
        return pieces
    }

    private static func parseOne(_ piece: String) -> MailAddress? {
        var display = ""
        var comments: [String] = []
        var angleAddr: String? = nil
        var bare = ""
        var inQuote = false
        var comment = 0
        var inAngle = false
        var escaped = false
        var curComment = ""
        var curAngle = ""
        for ch in piece {
            if escaped {
                if comment > 0 { curComment.append(ch) } else { display.append(ch) }
                escaped = false
                continue
            }
            if comment > 0 {
                if ch == "\\" {
                    escaped = true
                } else if ch == "(" {
                    comment += 1
                    curComment.append(ch)
                } else if ch == ")" {
                    comment -= 1
                    if comment == 0 {
                        comments.append(curComment)
                        curComment = ""
                    } else {
                        curComment.append(ch)
                    }
                } else {
                    curComment.append(ch)
                }
                continue
            }
            if inQuote {
                if ch == "\\" { escaped = true } else if ch == "\"" { inQuote = false } else { display.append(ch) }
                continue
            }
            if inAngle {
                if ch == ">" {
                    inAngle = false
                    angleAddr = curAngle
                } else {
                    curAngle.append(ch)
                }
                continue
            }
            switch ch {
            case "\"": inQuote = true
            case "(": comment = 1
            case "<":
                inAngle = true
                curAngle = ""
            default:
                display.append(ch)
                bare.append(ch)
            }
        }
        if inAngle && angleAddr == nil { angleAddr = curAngle }  // unterminated "<addr"
        let decodedComment = comments.last.map { EncodedWords.decode($0).trimmed }.flatMap { $0.isEmpty ? nil : $0 }
        if let a = angleAddr {
            let addr = stripSourceRoute(a.trimmed.filter { !$0.isWhitespace })
            let name = EncodedWords.decode(display.trimmed).trimmed
            return MailAddress(name: name.isEmpty ? decodedComment : name, address: addr)
        }
        let addr = bare.trimmed
        guard !addr.isEmpty else { return nil }
        // "Name addr@x" without brackets: take the token with "@" as the address.
        if addr.contains(" "), let token = addr.split(separator: " ").last(where: { $0.contains("@") }) {
            return MailAddress(name: decodedComment, address: String(token))
        }
        return MailAddress(name: decodedComment, address: addr)
    }

    /// "@a,@b:user@host" (obsolete source route) -> "user@host".
    private static func stripSourceRoute(_ s: String) -> String {
        if s.hasPrefix("@"), let colon = s.firstIndex(of: ":") { return String(s[s.index(after: colon)...]) }
        return s
    }
}
