import Foundation

/// Opaque, prefixed, unguessable identifiers (`ctc_…`): 22 base62 characters carry ~131 random bits.
public enum IDPrefix: String, Sendable, CaseIterable {
    case org, tok, inb, ctc, seq, enr, thr, msg, wfr, sup, evt, jdg, aud, whk, whd, drf, dom
}

public enum Base62 {
    package static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Random base62 string; `SystemRandomNumberGenerator` reads the kernel CSPRNG.
    public static func random(count: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count)
        // Eight random bytes per call to the kernel CSPRNG (one call per byte made every id cost
        // ~23 getrandom syscalls). 62 * 4 = 248: rejection sampling keeps the distribution uniform.
        var word: UInt64 = 0
        var left = 0
        while out.count < count {
            if left == 0 {
                word = rng.next()
                left = 8
            }
            let b = UInt8(truncatingIfNeeded: word)
            word >>= 8
            left -= 1
            if b < 248 { out.append(alphabet[Int(b % 62)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode(_ value: UInt64, width: Int) -> String {
        var v = value
        var out = [UInt8](repeating: alphabet[0], count: width)
        for i in stride(from: width - 1, through: 0, by: -1) {
            out[i] = alphabet[Int(v % 62)]
            v /= 62
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func isBase62(_ s: Substring) -> Bool {
        s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }
}

public enum ID {
    public static func make(_ prefix: IDPrefix) -> String { "\(prefix.rawValue)_\(Base62.random(count: 22))" }

    /// Shape check only; existence is the database's business. Keeps junk out of queries and logs.
    public static func isValid(_ value: String, _ prefix: IDPrefix) -> Bool {
        let p = prefix.rawValue + "_"
        guard value.hasPrefix(p), value.utf8.count <= 64 else { return false }
        let rest = value.dropFirst(p.count)
        return !rest.isEmpty && Base62.isBase62(rest)
    }
}
