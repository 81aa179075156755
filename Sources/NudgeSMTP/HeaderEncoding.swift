import Foundation

/// Builds one header field, folding only *before* a token's leading whitespace, so unfolding
/// (RFC 5322 2.2.3: delete each CRLF) gives back exactly the unfolded text. Lines stay within
/// 78 characters unless a single token is longer (only ids/addresses/URLs, which are bounded
/// well below 998 by validation).
struct FoldedHeader {
    static let lineLimit = 78
    private var text: String
    private var lineLength: Int
    private var lineHasToken = false

    init(name: String) {
        text = name + ":"
        lineLength = text.utf8.count
    }

    /// `token` must start with a space or tab (the separator, which also serves as folding whitespace).
    mutating func append(_ token: String) {
        precondition(token.first == " " || token.first == "\t", "token must carry its leading whitespace")
        let length = token.utf8.count
        if lineHasToken && lineLength + length > Self.lineLimit {
            text += "\r\n"
            lineLength = 0
        }
        text += token
        lineLength += length
        lineHasToken = true
    }

    /// Columns available for a token (including its leading space) on the current line.
    var remainingOnLine: Int { Self.lineLimit - lineLength }

    /// The field, terminated by CRLF.
    var rendered: String { text + "\r\n" }
}

/// RFC 2047 encoded-words (UTF-8, "B" encoding) and the header value forms built from them.
enum HeaderEncoding {
    private static let prefix = "=?utf-8?B?"
    private static let wordOverhead = 12  // "=?utf-8?B?" + "?="
    private static let maxWordLength = 75  // RFC 2047 section 2
    static let fullWordBytes = (maxWordLength - wordOverhead) / 4 * 3  // 45 bytes -> 60 base64 chars

    /// Appends `text` as a run of encoded-words. Decoders drop the whitespace between adjacent
    /// encoded-words, so the text (spaces included) round-trips exactly. Words never split a
    /// Unicode scalar (RFC 2047 section 5). Text that fits one full-size word gets exactly one
    /// (folding first if needed); longer text fills the current line before folding.
    static func appendEncodedWords(_ text: String, to header: inout FoldedHeader) {
        let total = text.utf8.count
        var consumed = 0
        var chunk: [UInt8] = []
        var capacity = chunkCapacity(header, remaining: total)
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if !chunk.isEmpty && chunk.count + bytes.count > capacity {
                header.append(" " + encodedWord(chunk))
                consumed += chunk.count
                chunk = []
                capacity = chunkCapacity(header, remaining: total - consumed)
            }
            chunk += bytes
        }
        header.append(" " + encodedWord(chunk))
    }

    /// Bytes for the next encoded-word: what fits on the current line, or a full-size word on a
    /// fresh line when the rest of the text fits one or too little of the line is left.
    private static func chunkCapacity(_ header: FoldedHeader, remaining: Int) -> Int {
        let width = min(header.remainingOnLine - 1, maxWordLength)  // minus the separating space
        let here = width >= wordOverhead + 8 ? (width - wordOverhead) / 4 * 3 : 0
        if here == 0 || (remaining > here && remaining <= fullWordBytes) { return fullWordBytes }
        return here
    }

    private static func encodedWord(_ bytes: [UInt8]) -> String {
        prefix + Data(bytes).base64EncodedString() + "?="
    }

    /// Unstructured text (Subject, extra headers). Plain ASCII is folded at its own whitespace;
    /// anything else (non-ASCII, control characters, "=?" look-alikes, unfoldable runs) is encoded.
    static func appendUnstructured(_ value: String, to header: inout FoldedHeader) {
        let pieces = whitespaceLedPieces(value)
        let plain =
            value.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }
            && !value.contains("=?")
            && pieces.allSatisfy { $0.utf8.count <= 60 }
        guard plain else { return appendEncodedWords(value, to: &header) }
        for (i, piece) in pieces.enumerated() {
            header.append(i == 0 && !piece.hasPrefix(" ") && !piece.hasPrefix("\t") ? " " + piece : piece)
        }
        if pieces.isEmpty { header.append(" ") }
    }

    /// Splits "a  b c" into ["a", "  b", " c"]: each piece keeps the whitespace before it,
    /// which is where folding may happen without altering the text.
    static func whitespaceLedPieces(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var inWord = false
        for ch in value {
            let isSpace = ch == " " || ch == "\t"
            if isSpace && inWord {
                pieces.append(current)
                current = ""
                inWord = false
            }
            current.append(ch)
            if !isSpace { inWord = true }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// A display name (RFC 5322 phrase), in the most readable form that round-trips: bare atoms,
    /// else one quoted-string, else one encoded-word, else word by word (atoms or quoted-strings
    /// for ASCII words, one encoded run per run of non-ASCII words). Word by word matters because
    /// decoders disagree on whitespace between adjacent encoded-words inside a phrase (RFC 2047
    /// says drop it; Python's email package keeps it), but all agree on whitespace next to an
    /// atom or quoted-string.
    static func appendDisplayName(_ name: String, to header: inout FoldedHeader) {
        if isPlainASCII(name) {
            let atoms = name.split(separator: " ", omittingEmptySubsequences: false)
            if atoms.allSatisfy(isAtom) {
                for atom in atoms { header.append(" " + atom) }
                return
            }
            if quoted(name).utf8.count < FoldedHeader.lineLimit - 1 {
                header.append(" " + quoted(name))
                return
            }
        }
        let words = name.split(separator: " ", omittingEmptySubsequences: false)
        guard name.utf8.count > fullWordBytes, words.allSatisfy({ !$0.isEmpty }) else {
            return appendEncodedWords(name, to: &header)  // short, or irregular spacing: encode it all
        }
        var run: [Substring] = []
        func flushRun() {
            if !run.isEmpty { appendEncodedWords(run.joined(separator: " "), to: &header) }
            run = []
        }
        for word in words {
            if isPlainASCII(word) && quoted(word).utf8.count < FoldedHeader.lineLimit - 1 {
                flushRun()
                header.append(" " + (isAtom(word) ? String(word) : quoted(word)))
            } else {
                run.append(word)
            }
        }
        flushRun()
    }

    private static func isPlainASCII<S: StringProtocol>(_ s: S) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } && !s.contains("=?")
    }

    private static func isAtom<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(Validation.isAtext)
    }

    private static func quoted<S: StringProtocol>(_ s: S) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
