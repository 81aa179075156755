import Crypto
import Foundation

/// The HMAC keys derived from `NUDGE_SECRET`, separate keys for separate purposes. Derived once
/// per process (NudgeServices): deriving them for every message showed in the dispatch profile.
public struct SigningKeys: Sendable {
    let unsubscribe: SymmetricKey
    let messageID: SymmetricKey

    public init(secret: [UInt8]) {
        unsubscribe = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Data("nudge-unsubscribe-v1".utf8), using: SymmetricKey(data: secret))))
        messageID = SymmetricKey(data: Array("nudge-message-id-v1".utf8) + secret)
    }
}

/// RFC 8058 one-click unsubscribe tokens: an opaque, signed reference to (organization, address,
/// enrollment). HMAC-SHA256 with `NUDGE_SECRET`; a forged or altered token fails verification and
/// is answered like any unknown URL.
public struct UnsubscribeToken: Sendable, Equatable {
    public let org: String
    public let address: String
    public let enrollmentID: String

    func sign(key: SymmetricKey) -> String {
        let payload = Data("\(org)\n\(address)\n\(enrollmentID)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Self.b64(payload) + "." + Self.b64(Data(mac))
    }

    static func verify(_ token: String, key: SymmetricKey) -> UnsubscribeToken? {
        guard token.utf8.count < 2048 else { return nil }
        let parts = token.split(separator: ".")
        guard parts.count == 2, let payload = unb64(String(parts[0])), let mac = unb64(String(parts[1])) else { return nil }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key) else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3 else { return nil }
        return UnsubscribeToken(org: fields[0], address: fields[1], enrollmentID: fields[2])
    }


    /// base64url without padding (byte mapping; three Foundation `replacingOccurrences` passes
    /// were a visible share of composing every outgoing message).
    static func b64(_ d: Data) -> String {
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

    static func unb64(_ s: String) -> Data? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }
}

/// RFC 5322 Message-IDs derived from (organization, enrollment, step): fixed before the SMTP
/// transaction and identical on every retry, so a duplicate delivery is recognisable as one.
public enum MessageIDs {
    /// `key` is `SigningKeys.messageID`.
    static func forStep(org: String, enrollmentID: String, step: Int, domain: String, key: SymmetricKey) -> String {
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
