import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
        return needle.withUTF8 { ByteSearch.occurs($0, in: hay) }
    }

    /// Equality ignoring ASCII case: header names are ASCII (RFC 5322 2.2).
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let a = utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { ASCII.lower($0) == ASCII.lower($1) }
    }
}

enum ByteSearch {
    /// Whether the non-empty `needle` occurs in `hay`.
    static func occurs(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>) -> Bool {
        !needle.isEmpty && needle.withUnsafeBufferPointer { occurs($0, in: hay) }
    }

    /// Whether any of the needles occurs in `text`'s UTF-8.
    static func anyOccurs(_ needles: [[UInt8]], in text: String) -> Bool {
        var text = text
        return text.withUTF8 { hay in needles.contains { occurs($0, in: hay) } }
    }

    /// The needles that occur in `text`'s UTF-8 (Foundation's and the standard library's
    /// searches are generic and far slower for these short texts).
    static func occurring(_ needles: [[UInt8]], in text: String) -> [Int] {
        var text = text
        return text.withUTF8 { hay in needles.indices.filter { occurs(needles[$0], in: hay) } }
    }

    /// Whether `needle` occurs in `hay`, byte for byte (an empty needle always does). The C
    /// library finds each candidate first byte far faster than a loop over the bytes.
    static func occurs(_ needle: UnsafeBufferPointer<UInt8>, in hay: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let n = needle.baseAddress, let first = needle.first else { return true }
        guard var at = hay.baseAddress, hay.count >= needle.count else { return false }
        let end = at + (hay.count - needle.count + 1)  // the last start that fits, plus one
        while at < end {
            guard let hit = memchr(at, Int32(first), end - at) else { return false }
            let p = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self))
            if memcmp(p, n, needle.count) == 0 { return true }
            at = p + 1
        }
        return false
    }
}
