import Foundation

/// Shared field checks; each failure is a 422 naming the field.
enum Validate {
    static func name(_ value: String?, _ param: String, max: Int = 200) throws -> String {
        guard let v = value?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else {
            throw APIError.validation(param, "\(param) is required and must not be empty.")
        }
        try text(v, param, max: max, singleLine: true)
        return v
    }

    /// Bounded text without control characters (line breaks allowed unless single-line).
    static func text(_ v: String, _ param: String, max: Int, singleLine: Bool = false) throws {
        guard v.count <= max else { throw APIError.validation(param, "\(param) must be at most \(max) characters.") }
        let bad = v.unicodeScalars.contains { s in
            (s.value < 0x20 && !(!singleLine && (s == "\n" || s == "\r" || s == "\t"))) || s.value == 0x7F
        }
        if bad { throw APIError.validation(param, "\(param) must not contain control characters.") }
    }

    static func scopes(_ raw: [String]) throws -> [String] {
        guard !raw.isEmpty else { throw APIError.validation("scopes", "scopes must list at least one scope.") }
        var out: [Scope] = []
        for (i, s) in raw.enumerated() {
            guard let scope = Scope(rawValue: s) else {
                throw APIError.validation("scopes[\(i)]", "Unknown scope \"\(s.prefix(64))\"; known scopes: \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if !out.contains(scope) { out.append(scope) }
        }
        return ScopeSet(out).sorted
    }
}
