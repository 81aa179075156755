import Foundation

#if canImport(CoreFoundation)
    import CoreFoundation
#endif

/// Turns bytes in a declared charset into a String. Never fails: unknown charsets and
/// undecodable bytes degrade to UTF-8 (when valid) or Latin-1, so no text is ever dropped.
public enum Charsets {
    public static func decode<C: Collection>(_ bytes: C, charset: String?) -> String where C.Element == UInt8 {
        let name = normalize(charset)
        switch name {
        case "", "utf-8", "utf8", "us-ascii", "ascii", "x-unknown", "unknown-8bit", "8bit", "default":
            // Mislabelled 8-bit text is common: try UTF-8 first, then Latin-1.
            return utf8OrLatin1(bytes)
        case "iso-8859-1", "latin1", "latin-1", "l1":
            return latin1(bytes)
        default:
            // ISO-2022 is 7-bit: 8-bit bytes mean the label is wrong (Foundation would pass them through as Latin-1).
            let mislabelled7bit = name.hasPrefix("iso-2022") && bytes.contains(where: { $0 >= 0x80 })
            if !mislabelled7bit {
                if let enc = encoding(for: name), let s = decodeFoundation(bytes, enc) { return s }
                if let s = Iconv.decode(bytes, from: name) { return s }
            }
            // Mislabelled legacy text: UTF-8, then the declared family's sibling charsets, then Latin-1.
            if let s = String(validating: bytes, as: UTF8.self) { return s }
            for sibling in siblings(of: name) {
                if let enc = encoding(for: sibling), let s = decodeFoundation(bytes, enc) { return s }
                if let s = Iconv.decode(bytes, from: sibling) { return s }
            }
            return latin1(bytes)
        }
    }

    /// The Foundation encoding for an IANA charset name, or nil when unknown.
    public static func encoding(for charset: String) -> String.Encoding? {
        var name = normalize(charset)
        if let alias = aliases[name] { name = alias }
        switch name {
        case "utf-8": return .utf8
        case "us-ascii": return .ascii
        case "windows-1252": return .windowsCP1252
        case "iso-8859-2": return .isoLatin2
        case "windows-1250": return .windowsCP1250
        case "windows-1251": return .windowsCP1251
        case "windows-1253": return .windowsCP1253
        case "windows-1254": return .windowsCP1254
        case "utf-16": return .utf16
        case "utf-16le": return .utf16LittleEndian
        case "utf-16be": return .utf16BigEndian
        default: break
        }
        #if canImport(CoreFoundation)
            let cf = CFStringConvertIANACharSetNameToEncoding(unsafeBitCast(NSString(string: name), to: CFString.self))
            if cf == kCFStringEncodingInvalidId { return nil }
            return String.Encoding(rawValue: UInt(CFStringConvertEncodingToNSStringEncoding(cf)))
        #else
            return nil
        #endif
    }

    private static func siblings(of name: String) -> [String] {
        if name.contains("jp") || name.contains("jis") { return ["euc-jp", "shift_jis", "iso-2022-jp"] }
        if name.contains("kr") || name.contains("ks_c") { return ["euc-kr"] }
        if name.contains("gb") || name.contains("big5") || name.contains("cn") { return ["gb18030", "big5"] }
        return []
    }

    /// Common mislabels and legacy names mapped to names Foundation knows.
    private static let aliases: [String: String] = [
        "utf8": "utf-8", "ascii": "us-ascii", "latin1": "iso-8859-1", "latin-1": "iso-8859-1",
        "cp1252": "windows-1252", "cp1251": "windows-1251", "cp1250": "windows-1250",
        "iso-8859-8-i": "iso-8859-8", "sjis": "shift_jis", "x-sjis": "shift_jis", "shift-jis": "shift_jis",
        "ks_c_5601-1987": "euc-kr", "gb2312": "gbk", "x-gbk": "gbk", "iso-2022-jp-2": "iso-2022-jp",
        "iso_8859-1": "iso-8859-1", "iso8859-1": "iso-8859-1", "iso8859-15": "iso-8859-15",
    ]

    static func normalize(_ charset: String?) -> String {
        guard var s = charset?.trimmed.lowercased() else { return "" }
        s = s.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        if let star = s.firstIndex(of: "*") { s = String(s[..<star]) }  // RFC 2231 language suffix
        return s
    }

    private static func decodeFoundation<C: Collection>(_ bytes: C, _ enc: String.Encoding) -> String? where C.Element == UInt8 {
        if bytes.isEmpty { return "" }
        return String(data: Data(bytes), encoding: enc)
    }

}
