import Foundation

// Small byte-level helpers shared by the parsers. Everything works on [UInt8] with index
// ranges so that parsing never copies the message more than once per level.

enum ASCII {
    static let cr: UInt8 = 13, lf: UInt8 = 10, space: UInt8 = 32, tab: UInt8 = 9
    static let colon: UInt8 = 58, dash: UInt8 = 45, equals: UInt8 = 61

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b + 32 : b }
    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }
    @inline(__always) static func isWSPOrNL(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }

    /// Value of a hex digit, or nil.
    @inline(__always) static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }
}

extension Array where Element == UInt8 {
    /// Index of the next LF at or after `from` (or `end` when there is none).
    @inline(__always) func lineEnd(from: Int, end: Int) -> Int {
        var i = from
        while i < end && self[i] != ASCII.lf { i += 1 }
        return i
    }

    /// End of line content, excluding a trailing CR.
    @inline(__always) func contentEnd(start: Int, lineEnd: Int) -> Int {
        (lineEnd > start && self[lineEnd - 1] == ASCII.cr) ? lineEnd - 1 : lineEnd
    }
}

/// Decode bytes as UTF-8 when valid, else as Latin-1 (which can represent any byte).
func utf8OrLatin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    return latin1(bytes)
}

/// Latin-1 maps every byte to the code point of the same value, so it never fails.
func latin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var s = String.UnicodeScalarView()
    s.append(contentsOf: bytes.map { Unicode.Scalar($0) })
    return String(s)
}

extension String {
    /// Without leading and trailing white space, without bridging through NSString (it runs on
    /// every line of every inbound message). The set is Foundation's `.whitespacesAndNewlines`:
    /// the Unicode White_Space scalars and, on Linux, U+200B (a test compares every BMP scalar).
    var trimmed: String {
        let s = unicodeScalars
        func space(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || u == "\u{200B}" }
        if let f = s.first, let l = s.last, f.isASCII, l.isASCII, !space(f), !space(l) { return self }
        guard let start = s.firstIndex(where: { !space($0) }), let end = s.lastIndex(where: { !space($0) }) else { return "" }
        return String(s[start...end])
    }
}
