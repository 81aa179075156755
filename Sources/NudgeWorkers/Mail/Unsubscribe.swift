import Crypto
import Foundation
import NudgeCore
import NudgeStore

/// The HMAC keys derived from `NUDGE_SECRET`, separate keys for separate purposes. Derived once
/// per process (NudgeServices): deriving them for every message showed in the dispatch profile.
public struct SigningKeys: Sendable {
    package let unsubscribe: SymmetricKey
    package let messageID: SymmetricKey

    public init(secret: [UInt8]) {
        unsubscribe = SymmetricKey(
            data: Array(HMAC<SHA256>.authenticationCode(for: Data("nudge-unsubscribe-v1".utf8), using: SymmetricKey(data: secret))))
        messageID = SymmetricKey(data: Array("nudge-message-id-v1".utf8) + secret)
    }
}

/// RFC 8058 one-click unsubscribe tokens: an opaque, signed reference to (organization, address,
/// enrollment, day of issue). HMAC-SHA256 with a key derived from `NUDGE_SECRET`; a forged,
/// altered, non-canonically encoded or expired token fails verification and is answered like any
/// unknown URL.
public struct UnsubscribeToken: Sendable, Equatable {
    public let org: String
    public let address: String
    public let enrollmentID: String
    /// Days since 1970-01-01 (UTC) of the send that carried the link; nil for links of the first
    /// format, which had no date.
    public let issuedDay: Int?

    /// How long a link works after the email that carried it was sent.
    public static let lifetimeDays = 180
    /// Links of the first format (no date) were sent before this day, and work until it.
    public static let undatedLinksEnd = Date(timeIntervalSince1970: 1_798_675_200)  // 2027-01-01

    public init(org: String, address: String, enrollmentID: String, issuedAt: Date) {
        self.init(org: org, address: address, enrollmentID: enrollmentID, issuedDay: Int((issuedAt.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    package init(org: String, address: String, enrollmentID: String, issuedDay: Int?) {
        self.org = org
        self.address = address
        self.enrollmentID = enrollmentID
        self.issuedDay = issuedDay
    }

    package func sign(key: SymmetricKey) -> String {
        var text = "\(org)\n\(address)\n\(enrollmentID)"
        if let issuedDay { text += "\n\(issuedDay)" }
        let payload = Data(text.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Self.b64(payload) + "." + Self.b64(Data(mac))
    }

    /// The token, if `token` is exactly what `sign` makes (one encoding per token: padding or
    /// altered unused bits are refused) and it has not expired at `now`.
    package static func verify(_ token: String, key: SymmetricKey, now: Date) -> UnsubscribeToken? {
        guard token.utf8.count < 2048 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = unb64(String(parts[0])), let mac = unb64(String(parts[1])) else { return nil }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key) else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let t: UnsubscribeToken
        switch fields.count {
        case 3:
            guard now < undatedLinksEnd else { return nil }
            t = UnsubscribeToken(org: fields[0], address: fields[1], enrollmentID: fields[2], issuedDay: nil)
        case 4:
            guard let day = Int(fields[3]), String(day) == fields[3] else { return nil }
            t = UnsubscribeToken(org: fields[0], address: fields[1], enrollmentID: fields[2], issuedDay: day)
            let expires = Date(timeIntervalSince1970: Double(day + 1 + lifetimeDays) * 86_400)
            guard now < expires else { return nil }
        default: return nil
        }
        // The encoding must be the canonical one, byte for byte.
        guard t.sign(key: key) == token else { return nil }
        return t
    }

    /// The link a step's email carries. A preview gets a link that leads nowhere: it names no
    /// real enrollment and is not signed, so nobody can suppress an address through a preview.
    package static func url(base: String, for d: DueStep, preview: Bool, key: SymmetricKey) -> String {
        guard !preview else { return "\(base)/u/preview-link-not-active" }
        return "\(base)/u/\(UnsubscribeToken(org: d.org, address: d.recipient, enrollmentID: d.enrollmentID, issuedAt: d.scheduledAt).sign(key: key))"
    }

    /// base64url without padding (byte mapping; three Foundation `replacingOccurrences` passes
    /// were a visible share of composing every outgoing message).
    package static func b64(_ d: Data) -> String {
        let mapped = d.base64EncodedString().utf8.compactMap { c -> UInt8? in
            switch c {
            case UInt8(ascii: "+"): return UInt8(ascii: "-")
            case UInt8(ascii: "/"): return UInt8(ascii: "_")
            case UInt8(ascii: "="): return nil
            default: return c
            }
        }
        return String(decoding: mapped, as: UTF8.self)
    }

    package static func unb64(_ s: String) -> Data? {
        guard s.utf8.allSatisfy({ $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") }) else { return nil }
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }
}

/// RFC 5322 Message-IDs derived from (organization, enrollment, step): fixed before the SMTP
/// transaction and identical on every retry, so a duplicate delivery is recognisable as one.
public enum MessageIDs {
    /// `key` is `SigningKeys.messageID`.
    package static func forStep(org: String, enrollmentID: String, step: Int, domain: String, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(org)/\(enrollmentID)/\(step)".utf8), using: key)
        let value = Data(mac).prefix(16).reduce(into: UInt64(0)) { $0 = $0 &* 31 &+ UInt64($1) }
        let tail = Data(mac).suffix(16).reduce(into: UInt64(0)) { $0 = $0 &* 31 &+ UInt64($1) }
        return "nudge.\(Base62.encode(value, width: 11))\(Base62.encode(tail, width: 11)).\(step)@\(domain)"
    }

    /// The domain part of the sending inbox's address.
    public static func domain(of address: String) -> String {
        address.split(separator: "@").last.map { String($0).lowercased() } ?? "nudge.invalid"
    }
}
