/// Content-Transfer-Encoding decoders. Both are lenient single-pass decoders: invalid input
/// is skipped or kept literally, never rejected.
public enum TransferEncoding {
    /// Decodes a body according to a Content-Transfer-Encoding value (7bit/8bit/binary pass through).
    public static func decode<C: Collection>(_ bytes: C, encoding: String) -> [UInt8] where C.Element == UInt8 {
        switch encoding.trimmed.lowercased() {
        case "base64": return base64(bytes)
        case "quoted-printable": return quotedPrintable(bytes)
        default: return Array(bytes)
        }
    }

    private static let base64Table: [UInt8] = {
        var t = [UInt8](repeating: 255, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63  // URL-safe variant
        return t
    }()

    /// Base64 ignoring whitespace and junk characters; padding is optional.
    public static func base64<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 3 / 4)
        var acc: UInt32 = 0
        var n = 0
        for b in bytes {
            let v = base64Table[Int(b)]
            if v == 255 { continue }
            acc = (acc << 6) | UInt32(v)
            n += 1
            if n == 4 {
                out.append(UInt8((acc >> 16) & 0xFF))
                out.append(UInt8((acc >> 8) & 0xFF))
                out.append(UInt8(acc & 0xFF))
                acc = 0
                n = 0
            }
        }
        if n == 2 { out.append(UInt8((acc >> 4) & 0xFF)) }
        if n == 3 {
            out.append(UInt8((acc >> 10) & 0xFF))
            out.append(UInt8((acc >> 2) & 0xFF))
        }
        return out
    }

    /// Quoted-printable (RFC 2045 6.7); `underscoreIsSpace` gives the RFC 2047 "Q" variant.
    public static func quotedPrintable<C: Collection>(_ bytes: C, underscoreIsSpace: Bool = false) -> [UInt8] where C.Element == UInt8 {
        let a = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity(a.count)
        var i = 0
        while i < a.count {
            let b = a[i]
            if b == ASCII.equals {
                if i + 2 < a.count, let h = ASCII.hex(a[i + 1]), let l = ASCII.hex(a[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
                // Soft line break: "=" followed by optional whitespace then CRLF/LF.
                var j = i + 1
                while j < a.count && ASCII.isWSP(a[j]) { j += 1 }
                if j < a.count && a[j] == ASCII.cr { j += 1 }
                if j < a.count && a[j] == ASCII.lf {
                    i = j + 1
                    continue
                }
                if j == a.count {
                    i = j
                    continue
                }
                out.append(b)
                i += 1  // stray "=": keep literally
            } else if b == UInt8(ascii: "_") && underscoreIsSpace {
                out.append(ASCII.space)
                i += 1
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }
}
