// Syntax checks for header values. Everything that reaches a header goes through
// `checkNoLineBreaks` first, which is what makes header injection impossible.

enum Validation {
    static func checkNoLineBreaks(_ value: String, field: String) throws {
        if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
            throw OutboundMessageError.forbiddenCharacter(field: field)
        }
    }

    /// RFC 5322 atext (the characters allowed in a dot-atom besides ".").
    static func isAtext(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(b)
        }
    }

    /// dot-atom-text: atext runs separated by single dots.
    /// One pass over the bytes (Foundation's substring search for ".." showed in the dispatch
    /// profile): no leading, trailing or doubled dot, atext otherwise; false when empty.
    static func isDotAtom(_ s: Substring) -> Bool {
        let dot = UInt8(ascii: ".")
        var previous = dot
        for b in s.utf8 {
            if b == dot {
                if previous == dot { return false }
            } else if !isAtext(b) {
                return false
            }
            previous = b
        }
        return previous != dot
    }

    /// A deliberately strict addr-spec: dot-atom local part, hostname domain, ASCII only.
    /// Quoted local parts and address literals are rejected; nobody needs them for outbound mail.
    static func checkAddress(_ address: String, field: String) throws {
        try checkNoLineBreaks(address, field: field)
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, address.utf8.count <= 254 else {
            throw OutboundMessageError.invalidAddress(field: field)
        }
        let local = parts[0]
        let domain = parts[1]
        guard local.utf8.count <= 64, isDotAtom(local), isHostname(domain) else {
            throw OutboundMessageError.invalidAddress(field: field)
        }
    }

    static func isHostname(_ s: Substring) -> Bool {
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { b in
                    b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A)
                }
        }
    }

    /// msg-id content without brackets (RFC 5322 3.6.4, no obsolete forms): a dot-atom on the
    /// left; a dot-atom or a domain literal (`[10.0.0.1]`, which real mailers write) on the right.
    static func checkMessageID(_ id: String, field: String) throws {
        try checkNoLineBreaks(id, field: field)
        guard isMessageID(id) else { throw OutboundMessageError.invalidMessageID(field: field) }
    }

    static func isMessageID(_ id: String) -> Bool {
        guard id.utf8.count <= maxMessageIDLength, let at = id.utf8.firstIndex(of: UInt8(ascii: "@")) else { return false }
        let left = id[..<at]
        let right = id[id.index(after: at)...]
        return isDotAtom(left) && (isDotAtom(right) || isNoFoldLiteral(right))
    }

    /// Keeps every id on one header line with room to spare (998 octets is the line limit).
    static let maxMessageIDLength = 250

    /// "[" *dtext "]": printable ASCII except "[", "]" and "\".
    static func isNoFoldLiteral(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard b.count >= 2, b.first == UInt8(ascii: "["), b.last == UInt8(ascii: "]") else { return false }
        return b.dropFirst().dropLast().allSatisfy {
            $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") && $0 != UInt8(ascii: "\\")
        }
    }

    /// An http(s) URL that can sit inside `<...>` unfolded: visible ASCII, no brackets or spaces.
    static func checkHeaderURL(_ url: String, field: String) throws {
        try checkNoLineBreaks(url, field: field)
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), url.utf8.count <= 900,
            url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") })
        else { throw OutboundMessageError.invalidURL(field: field) }
    }

    /// field-name = 1*ftext (printable ASCII except ":").
    static func checkHeaderName(_ name: String, field: String) throws {
        guard !name.isEmpty, name.utf8.count <= 76,
            name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") })
        else { throw OutboundMessageError.invalidHeaderName(field: field) }
    }
}
