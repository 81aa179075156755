/// RFC 2047 encoded-word decoding ("=?charset?B|Q?text?=") for header values.
public enum EncodedWords {
    /// Decodes every encoded word in `value`. Whitespace between adjacent encoded words is
    /// dropped (RFC 2047 6.2), and adjacent words in the same charset are joined as bytes
    /// first, because senders split multi-byte characters across words.
    public static func decode(_ value: String) -> String {
        guard value.containsText("=?") else { return value }
        let s = Array(value.utf8)
        var out = ""
        var pendingBytes = [UInt8]()
        var pendingCharset = ""
        var literalStart = 0
        var i = 0
        var closer = CloseFinder()
        func flushPending() {
            if !pendingBytes.isEmpty || !pendingCharset.isEmpty { out += Charsets.decode(pendingBytes, charset: pendingCharset) }
            pendingBytes = []
            pendingCharset = ""
        }
        while i < s.count {
            if s[i] == UInt8(ascii: "="), i + 1 < s.count, s[i + 1] == UInt8(ascii: "?"), let w = parseWord(s, i, &closer) {
                let between = Array(s[literalStart..<i])
                if pendingCharset.isEmpty || !between.allSatisfy(ASCII.isWSPOrNL) {
                    flushPending()
                    out += String(decoding: between, as: UTF8.self)
                } else if Charsets.normalize(w.charset) != Charsets.normalize(pendingCharset) {
                    flushPending()
                }
                pendingCharset = w.charset.isEmpty ? "utf-8" : w.charset
                pendingBytes += w.bytes
                i = w.end
                literalStart = i
                continue
            }
            i += 1
        }
        flushPending()
        out += String(decoding: s[literalStart...], as: UTF8.self)
        return out
    }

    private struct Word {
        var charset: String
        var bytes: [UInt8]
        var end: Int
    }

    /// Parses one encoded word starting at `start` ("=?"); nil if malformed.
    /// Finds the next "?=" with a forward-only cursor, so junk full of "=?" stays linear.
    private struct CloseFinder {
        var found = -1, searchedTo = 0
        mutating func next(after start: Int, in s: [UInt8]) -> Int? {
            if found >= start { return found }
            var j = max(start, searchedTo)
            while j + 1 < s.count && !(s[j] == UInt8(ascii: "?") && s[j + 1] == UInt8(ascii: "=")) { j += 1 }
            searchedTo = j
            found = j + 1 < s.count ? j : Int.max
            return found == Int.max ? nil : found
        }
    }

    private static func parseWord(_ s: [UInt8], _ start: Int, _ closer: inout CloseFinder) -> Word? {
        var i = start + 2
        let csStart = i
        while i < s.count && s[i] != UInt8(ascii: "?") {
            if ASCII.isWSPOrNL(s[i]) || i - csStart > 64 { return nil }
            i += 1
        }
        guard i + 2 < s.count, s[i + 2] == UInt8(ascii: "?") else { return nil }
        let charset = String(decoding: s[csStart..<i], as: UTF8.self)
        let enc = ASCII.lower(s[i + 1])
        guard enc == UInt8(ascii: "b") || enc == UInt8(ascii: "q") else { return nil }
        let textStart = i + 3
        // Lenient: encoded text ends at the first "?=" (spaces inside are tolerated, as many mailers emit them).
        guard let j = closer.next(after: textStart, in: s), j - textStart <= 2000 else { return nil }
        let text = s[textStart..<j]
        let bytes = enc == UInt8(ascii: "b") ? TransferEncoding.base64(text) : TransferEncoding.quotedPrintable(text, underscoreIsSpace: true)
        return Word(charset: charset, bytes: bytes, end: j + 2)
    }
}
