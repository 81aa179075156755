import Foundation

/// Address validation for what Nudge sends to and from (RFC 5321 `Mailbox` with a dot-atom local
/// part). Deliberately stricter than RFC 5322: quoted local parts and non-ASCII addresses
/// (SMTPUTF8) are refused, and a unicode domain must be given in its ASCII (`xn--`) form, so every
/// accepted address can be sent through any SMTP server. Matching uses `key`: the whole address
/// lower-cased.
public enum Mailbox {
    package static let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".unicodeScalars)

    /// Returns the trimmed address, or a message saying what is wrong with it.
    public static func validate(_ raw: String) -> Result<String, AddressError> {
        let a = raw.trimmingCharacters(in: .whitespaces)
        if a.isEmpty { return .failure(.init("must not be empty")) }
        if a.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return .failure(.init("must not contain spaces or control characters"))
        }
        if a.utf8.count > 254 { return .failure(.init("must be at most 254 characters")) }
        let parts = a.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.init(parts.count < 2 ? "must contain an @" : "must contain exactly one @")) }
        let local = parts[0]
        let domain = parts[1]
        if local.isEmpty { return .failure(.init("has an empty local part")) }
        if local.utf8.count > 64 { return .failure(.init("has a local part over 64 characters")) }
        if !local.unicodeScalars.allSatisfy({ $0.isASCII }) || !domain.unicodeScalars.allSatisfy({ $0.isASCII }) {
            return .failure(.init("must be ASCII; give an internationalised domain in its xn-- form"))
        }
        for atom in local.split(separator: ".", omittingEmptySubsequences: false) {
            if atom.isEmpty { return .failure(.init("has a misplaced dot in the local part")) }
            if !atom.unicodeScalars.allSatisfy(atext.contains) { return .failure(.init("has characters not allowed in the local part")) }
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return .failure(.init("needs a domain with a dot, such as example.com")) }
        for label in labels {
            if label.isEmpty || label.utf8.count > 63 { return .failure(.init("has an invalid domain")) }
            if label.first == "-" || label.last == "-" { return .failure(.init("has an invalid domain")) }
            if !label.unicodeScalars.allSatisfy({
                $0.properties.isASCIIHexDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "-" || ("0"..."9").contains($0)
            }) {
                return .failure(.init("has an invalid domain"))
            }
        }
        if labels.last!.allSatisfy(\.isNumber) { return .failure(.init("has an invalid top-level domain")) }
        return .success(a)
    }

    public static func key(_ address: String) -> String { address.lowercased() }

    public struct AddressError: Error, Sendable {
        public let reason: String
        package init(_ r: String) { reason = r }
    }

    /// Validates or throws a 422 naming `param`.
    package static func require(_ raw: String?, _ param: String) throws -> String {
        guard let raw else { throw NudgeError.validation(param, "\(param) is required.") }
        switch validate(raw) {
        case .success(let a): return a
        case .failure(let e): throw NudgeError.validation(param, "\(param) \(e.reason).")
        }
    }
}
