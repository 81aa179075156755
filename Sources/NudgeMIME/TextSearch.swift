import Foundation

// Foundation's `contains` and `caseInsensitiveCompare` bridge each call through NSString
// (UTF-16 copies, CFString searches); header lookups and phrase searches run dozens of times per
// inbound message and were about 9% of the inbound path's CPU (perf, ops/bench inbound).

extension StringProtocol {
    /// Whether `needle` occurs in the text. ASCII text is searched byte by byte; text with other
    /// characters keeps Foundation's search, which also matches canonically equivalent forms
    /// (a decomposed "é" against a composed one).
    func containsText(_ needle: String) -> Bool {
        if let fast = utf8.withContiguousStorageIfAvailable({ hay -> Bool? in
            guard !hay.contains(where: { $0 >= 0x80 }) else { return nil }
            return Self.bytes(hay, contain: needle)
        }), let found = fast {
            return found
        }
        return contains(needle)
    }

    private static func bytes(_ hay: UnsafeBufferPointer<UInt8>, contain needle: String) -> Bool {
        var needle = needle
        return needle.withUTF8 { n in
            guard let first = n.first else { return true }
            guard hay.count >= n.count else { return false }
            var i = 0
            let last = hay.count - n.count
            while i <= last {
                if hay[i] == first {
                    var j = 1
                    while j < n.count && hay[i + j] == n[j] { j += 1 }
                    if j == n.count { return true }
                }
                i += 1
            }
            return false
        }
    }

    /// Equality ignoring ASCII case: header names are ASCII (RFC 5322 2.2).
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let a = utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { ASCII.lower($0) == ASCII.lower($1) }
    }
}
