/// A value inside a response's data: what FETCH attributes and SEARCH results are made of.
enum IMAPValue: Equatable {
    /// An atom, number or NIL as written ("UID", "42", "\\Seen", "BODY[]"), brackets included.
    case atom(String)
    /// A quoted string or a literal, as bytes.
    case string([UInt8])
    case skippedLiteral(size: Int)
    case list([IMAPValue])

    var number: UInt64? {
        if case .atom(let a) = self { return UInt64(a) }
        return nil
    }
}

/// A response's status line: `tag OK [CODE args] text`, also `* OK`, `* NO`, `* BYE`.
struct IMAPStatus: Equatable {
    let tag: String
    /// OK, NO, BAD, BYE or PREAUTH.
    let condition: String
    /// The response code without brackets ("UIDVALIDITY 1234", "NONEXISTENT"), if any.
    let code: String?
    let line: String

    var codeName: String? { code?.split(separator: " ").first.map { $0.uppercased() } }
    var codeArgument: String? { code?.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) }
}

extension IMAPResponse {
    /// The status of a tagged or untagged OK/NO/BAD/BYE/PREAUTH response; nil for data responses.
    var status: IMAPStatus? {
        let text = String(decoding: head, as: UTF8.self)
        let words = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard words.count >= 2 else { return nil }
        let condition = words[1].uppercased()
        guard ["OK", "NO", "BAD", "BYE", "PREAUTH"].contains(condition) else { return nil }
        var code: String?
        if words.count == 3, words[2].hasPrefix("["), let close = words[2].firstIndex(of: "]") {
            code = String(words[2][words[2].index(after: words[2].startIndex)..<close])
        }
        return IMAPStatus(tag: String(words[0]), condition: condition, code: code, line: summary)
    }

    /// `* <n> <NAME> ...`: (n, NAME) for EXISTS, EXPUNGE, FETCH.
    var numbered: (UInt64, String)? {
        let words = head.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
        guard words.count >= 3, words[0] == [UInt8(ascii: "*")],
            let n = UInt64(String(decoding: words[1], as: UTF8.self))
        else { return nil }
        return (n, String(decoding: words[2], as: UTF8.self).uppercased())
    }

    /// `* SEARCH 3 4 5`: the numbers (an empty result is `* SEARCH`).
    var searchResults: [UInt32]? {
        let words = head.split(separator: 0x20)
        guard words.count >= 2, words[0] == [UInt8(ascii: "*")],
            String(decoding: words[1], as: UTF8.self).uppercased() == "SEARCH"
        else { return nil }
        // Anything that is not a number (a CONDSTORE "(MODSEQ n)") is not a UID.
        return words.dropFirst(2).compactMap { UInt32(String(decoding: $0, as: UTF8.self)) }
    }

    /// The values after `* <n> FETCH `: one parenthesised list of attribute/value pairs.
    func fetchAttributes() throws(IMAPError) -> [String: IMAPValue] {
        var tokens = IMAPTokenizer(parts: parts)
        // Skip "*", the sequence number and "FETCH".
        for _ in 0..<3 { _ = try tokens.next() }
        guard case .list(let items)? = try tokens.next() else {
            throw IMAPError(.protocol, "FETCH response without its list", serverReply: summary)
        }
        var attributes: [String: IMAPValue] = [:]
        var i = 0
        // In any order: the server is free to send UID after the body, or flags in between.
        while i + 1 < items.count {
            guard case .atom(let name) = items[i] else {
                throw IMAPError(.protocol, "FETCH attribute name expected", serverReply: summary)
            }
            attributes[name.uppercased()] = items[i + 1]
            i += 2
        }
        return attributes
    }
}

/// Reads values from a response's parts; a literal part is one string value.
struct IMAPTokenizer {
    private let parts: [IMAPResponse.Part]
    private var part = 0
    private var offset = 0

    init(parts: [IMAPResponse.Part]) { self.parts = parts }

    /// The next value, nil at the end of the response.
    mutating func next() throws(IMAPError) -> IMAPValue? {
        guard let value = try nextToken() else { return nil }
        if case .atom(")") = value { throw IMAPError(.protocol, "unbalanced parenthesis in response") }
        return value
    }

    private mutating func nextToken() throws(IMAPError) -> IMAPValue? {
        while part < parts.count {
            switch parts[part] {
            case .literal(let bytes):
                part += 1
                offset = 0
                return .string(bytes)
            case .skippedLiteral(let size):
                part += 1
                offset = 0
                return .skippedLiteral(size: size)
            case .text(let text):
                while offset < text.count, text[offset] == 0x20 { offset += 1 }
                guard offset < text.count else {
                    part += 1
                    offset = 0
                    continue
                }
                return try token(in: text)
            }
        }
        return nil
    }

    private mutating func token(in text: [UInt8]) throws(IMAPError) -> IMAPValue {
        let c = text[offset]
        switch c {
        case UInt8(ascii: "("):
            offset += 1
            var items: [IMAPValue] = []
            while true {
                guard let value = try nextToken() else { throw IMAPError(.protocol, "unterminated list in response") }
                if case .atom(")") = value { return .list(items) }
                items.append(value)
            }
        case UInt8(ascii: ")"):
            offset += 1
            return .atom(")")
        case UInt8(ascii: "\""):
            offset += 1
            var bytes: [UInt8] = []
            while offset < text.count, text[offset] != UInt8(ascii: "\"") {
                if text[offset] == UInt8(ascii: "\\"), offset + 1 < text.count { offset += 1 }
                bytes.append(text[offset])
                offset += 1
            }
            guard offset < text.count else { throw IMAPError(.protocol, "unterminated quoted string in response") }
            offset += 1
            return .string(bytes)
        default:
            // An atom runs to a space or parenthesis, except inside a section's brackets:
            // BODY[HEADER.FIELDS (FROM TO)]<0> is one name.
            let start = offset
            var depth = 0
            while offset < text.count {
                let b = text[offset]
                if b == UInt8(ascii: "[") { depth += 1 } else if b == UInt8(ascii: "]") { depth -= 1 }
                if depth <= 0, b == 0x20 || b == UInt8(ascii: "(") || b == UInt8(ascii: ")") { break }
                offset += 1
            }
            return .atom(String(decoding: text[start..<offset], as: UTF8.self))
        }
    }
}
