import Foundation

/// Text normalisation shared by the output guard's checks: compatibility forms folded (full-width
/// letters and digits become ASCII), case and diacritics folded, apostrophe variants unified.
package enum GuardText {
    package static func fold(_ s: String) -> String {
        s.precomposedStringWithCompatibilityMapping
            .folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
            .replacingOccurrences(of: "\u{2019}", with: "'").replacingOccurrences(of: "\u{2018}", with: "'")
    }

    /// Words for overlap: runs of letters and digits (an apostrophe inside a word is dropped, so
    /// "sender's" is "senders"); each Han, kana or Thai character is a word of its own, since those
    /// scripts do not separate words with spaces.
    package static func words(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in fold(s) {
            if ch.unicodeScalars.contains(where: isUnspacedScript) {
                if !current.isEmpty { out.append(current) }
                current = ""
                out.append(String(ch))
            } else if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if ch == "'" && !current.isEmpty {
                continue
            } else if !current.isEmpty {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    static func isUnspacedScript(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x0E00...0x0E7F: return true
        default: return false
        }
    }
}
