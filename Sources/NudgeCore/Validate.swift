import Foundation

/// Shared field checks; each failure is a 422 naming the field.
///
/// Lengths are counted in Unicode scalars (code points), the unit JSON Schema's `minLength` and
/// `maxLength` use, so that a limit means exactly what `docs/openapi.json` says: a name of a few
/// grapheme clusters built from hundreds of combining marks is as long as its code points.
package enum Validate {
    /// The length JSON Schema gives a string.
    package static func length(_ v: String) -> Int { v.unicodeScalars.count }

    /// A required single-line name. The limit applies to the value as sent (before trimming), as
    /// in the document; the trimmed value must not be empty.
    package static func name(_ value: String?, _ param: String, max: Int = 200) throws -> String {
        guard let raw = value else { throw NudgeError.validation(param, "\(param) is required and must not be empty.") }
        try text(raw, param, max: max, singleLine: true)
        let v = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !v.isEmpty else { throw NudgeError.validation(param, "\(param) is required and must not be empty.") }
        return v
    }

    /// Bounded text without control characters (line breaks allowed unless single-line). Single-line
    /// text ends up in headers or one-line displays, so it also refuses the invisible characters
    /// that reorder or hide text there (bidirectional overrides and isolates, line separators).
    package static func text(_ v: String, _ param: String, max: Int, singleLine: Bool = false) throws {
        guard length(v) <= max else {
            throw NudgeError.validation(param, "\(param) must be at most \(max) characters (Unicode code points).")
        }
        if let bad = v.unicodeScalars.first(where: { isControl($0, allowLineBreaks: !singleLine) }) {
            let code = String(format: "U+%04X", bad.value)
            throw NudgeError.validation(param, "\(param) must not contain control or bidirectional formatting characters (found \(code)).")
        }
    }

    /// C0 and C1 controls and DEL; in single-line text also the bidirectional embeddings,
    /// overrides and isolates (U+202A-U+202E, U+2066-U+2069: they reorder what a mail client shows
    /// around them) and the line and paragraph separators. Marks and joiners (U+200C-U+200F,
    /// U+061C) stay allowed: scripts and emoji sequences need them.
    package static func isControl(_ s: Unicode.Scalar, allowLineBreaks: Bool) -> Bool {
        switch s.value {
        case 0x09, 0x0A, 0x0D: return !allowLineBreaks
        case 0x00..<0x20, 0x7F...0x9F: return true
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return !allowLineBreaks
        default: return false
        }
    }

    package static func scopes(_ raw: [String]) throws -> [String] {
        guard !raw.isEmpty else { throw NudgeError.validation("scopes", "scopes must list at least one scope.") }
        var out: [Scope] = []
        for (i, s) in raw.enumerated() {
            guard let scope = Scope(rawValue: s) else {
                throw NudgeError.validation(
                    "scopes[\(i)]", "Unknown scope \"\(s.prefix(64))\"; known scopes: \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if !out.contains(scope) { out.append(scope) }
        }
        return ScopeSet(out).sorted
    }
}
