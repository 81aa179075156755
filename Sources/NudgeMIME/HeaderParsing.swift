import Foundation

/// One header field. `value` is unfolded and RFC 2047-decoded; `rawValue` is unfolded only
/// (structured parsing such as addresses and parameters must work on the raw form).
public struct MIMEHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public var rawValue: String

    public init(name: String, value: String, rawValue: String? = nil) {
        self.name = name
        self.value = value
        self.rawValue = rawValue ?? value
    }
}

/// Limits that keep hostile input linear and bounded.
enum HeaderLimits {
    static let maxHeaders = 1000
    static let maxValueBytes = 256 * 1024
}

enum HeaderParsing {
    /// Parses the header block starting at `start`; returns headers and the body start index.
    /// A line that is neither a field nor a continuation ends the block (it belongs to the body),
    /// which is how Python's `email` package and most MUAs behave.
    static func parse(_ buf: [UInt8], start: Int, end: Int) -> (headers: [MIMEHeader], bodyStart: Int) {
        var headers: [MIMEHeader] = []
        var i = start
        // An mbox "From " separator line is not a header.
        if end - i >= 5, buf[i..<(i + 5)].elementsEqual("From ".utf8) { i = buf.lineEnd(from: i, end: end) + 1 }
        var name: ArraySlice<UInt8> = []
        var value: [UInt8] = []
        var open = false
        func finish() {
            guard open else { return }
            open = false
            if headers.count < HeaderLimits.maxHeaders { headers.append(makeHeader(name, value)) }
        }
        while i < end {
            let le = buf.lineEnd(from: i, end: end)
            let ce = buf.contentEnd(start: i, lineEnd: le)
            if ce == i {
                finish()
                return (headers, min(le + 1, end))
            }  // blank line: body follows
            if ASCII.isWSP(buf[i]) {
                if open {
                    if value.count < HeaderLimits.maxValueBytes {
                        value.append(contentsOf: buf[i..<min(ce, i + HeaderLimits.maxValueBytes - value.count)])
                    }
                    i = le + 1
                    continue
                }
                if headers.isEmpty {
                    i = le + 1
                    continue
                }  // stray leading continuation: skip
                finish()
                return (headers, i)
            }
            var c = i
            while c < ce && buf[c] != ASCII.colon && buf[c] > 32 && buf[c] < 127 { c += 1 }
            var nameEnd = c
            // Tolerate "Name :" (whitespace before the colon).
            while c < ce && ASCII.isWSP(buf[c]) { c += 1 }
            guard c < ce, buf[c] == ASCII.colon, nameEnd > i else {
                // Broken folding seen in the wild: "Content-Type: multipart/x;\nboundary=..." with
                // the continuation not indented. Accept a "name=value" line after a trailing ";".
                if open, value.last == UInt8(ascii: ";"), buf[i..<ce].contains(ASCII.equals) {
                    value.append(ASCII.space)
                    value.append(contentsOf: buf[i..<min(ce, i + 4096)])
                    i = le + 1
                    continue
                }
                finish()
                return (headers, i)
            }
            while nameEnd > i && ASCII.isWSP(buf[nameEnd - 1]) { nameEnd -= 1 }
            finish()
            name = buf[i..<nameEnd]
            value = Array(buf[(c + 1)..<min(ce, c + 1 + HeaderLimits.maxValueBytes)])
            open = true
            i = le + 1
        }
        finish()
        return (headers, end)
    }

    private static func makeHeader(_ name: ArraySlice<UInt8>, _ value: [UInt8]) -> MIMEHeader {
        let raw = utf8OrLatin1(value).trimmed
        return MIMEHeader(name: String(decoding: name, as: UTF8.self), value: EncodedWords.decode(raw), rawValue: raw)
    }

    /// Parses blocks of "Name: value" groups separated by blank lines, as in
    /// message/delivery-status and message/feedback-report bodies.
    static func parseGroups(_ body: [UInt8]) -> [[MIMEHeader]] {
        var groups: [[MIMEHeader]] = []
        var i = 0
        while i < body.count && groups.count < 1000 {
            // Skip blank lines between groups.
            let le = body.lineEnd(from: i, end: body.count)
            if body.contentEnd(start: i, lineEnd: le) == i || body[i..<le].allSatisfy(ASCII.isWSPOrNL) {
                i = le + 1
                continue
            }
            let (h, next) = parse(body, start: i, end: body.count)
            if !h.isEmpty { groups.append(h) }
            // A non-field line ends a group without progress: skip it.
            i = next > i ? next : body.lineEnd(from: i, end: body.count) + 1
        }
        return groups
    }
}

extension Array where Element == MIMEHeader {
    /// First header with this name (case-insensitive), decoded value.
    public func first(named name: String) -> MIMEHeader? {
        first { $0.name.equalsIgnoringASCIICase(name) }
    }
    public func values(named name: String) -> [String] {
        filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }
}

/// A structured header value such as Content-Type: "type/subtype; a=b; c*=utf-8''x".
public struct HeaderParameters: Sendable, Hashable {
    /// The value before the first ";" (lowercased, trimmed).
    public var value: String
    /// Parameters with lowercased names, RFC 2231 continuations joined and decoded.
    public var parameters: [String: String]

    public init(parsing raw: String) {
        let chars = Array(raw.unicodeScalars)
        var i = 0
        var main = String.UnicodeScalarView()
        while i < chars.count && chars[i] != ";" {
            main.append(chars[i])
            i += 1
        }
        value = String(main).trimmed.lowercased()
        var simple: [String: String] = [:]
        var sections: [String: [(index: Int, encoded: Bool, text: String)]] = [:]
        while i < chars.count && simple.count + sections.count < 100 {
            i += 1  // skip ";"
            while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 }
            var name = String.UnicodeScalarView()
            while i < chars.count && chars[i] != "=" && chars[i] != ";" {
                name.append(chars[i])
                i += 1
            }
            guard i < chars.count, chars[i] == "=" else { continue }
            i += 1
            while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 }
            var val = String.UnicodeScalarView()
            if i < chars.count && chars[i] == "\"" {
                i += 1
                while i < chars.count && chars[i] != "\"" {
                    if chars[i] == "\\" && i + 1 < chars.count { i += 1 }
                    val.append(chars[i])
                    i += 1
                }
                while i < chars.count && chars[i] != ";" { i += 1 }  // skip closing quote and junk
            } else {
                while i < chars.count && chars[i] != ";" {
                    val.append(chars[i])
                    i += 1
                }
            }
            let key = String(name).trimmed.lowercased()
            let text = String(val).trimmed
            if key.isEmpty { continue }
            // RFC 2231: name*=..., name*0=..., name*1*=...
            if let star = key.firstIndex(of: "*") {
                let base = String(key[..<star])
                var rest = key[key.index(after: star)...]
                let encoded = rest.hasSuffix("*") || rest.isEmpty
                if rest.hasSuffix("*") { rest = rest.dropLast() }
                let index = rest.isEmpty ? 0 : (Int(rest) ?? 0)
                sections[base, default: []].append((min(index, 999), encoded, text))
            } else if simple[key] == nil {
                simple[key] = text
            }
        }
        for (base, parts) in sections {
            var charset: String? = nil
            var bytes = [UInt8]()
            for (n, p) in parts.sorted(by: { $0.index < $1.index }).enumerated() {
                var text = Substring(p.text)
                if p.encoded {
                    if n == 0 {
                        // charset'language'value
                        let pieces = text.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                        if pieces.count == 3 {
                            charset = String(pieces[0])
                            text = pieces[2]
                        }
                    }
                    bytes += Self.percentDecode(text)
                } else {
                    bytes += Array(text.utf8)
                }
            }
            simple[base] = Charsets.decode(bytes, charset: charset)
        }
        parameters = simple
    }

    private static func percentDecode(_ s: Substring) -> [UInt8] {
        let a = Array(s.utf8)
        var out = [UInt8]()
        var i = 0
        while i < a.count {
            if a[i] == UInt8(ascii: "%"), i + 2 < a.count, let h = ASCII.hex(a[i + 1]), let l = ASCII.hex(a[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(a[i])
                i += 1
            }
        }
        return out
    }
}
