import Crypto
import Foundation

/// Mail account passwords and DKIM private keys at rest: AES-GCM under a key derived from
/// `NUDGE_SECRET`, with their owner (organization and inbox, or domain) bound in as associated
/// data (a sealed value copied to another row does not open). `keyID` names the secret without revealing it; each sealed value is stored
/// with it, so `nudge secret rotate` re-seals exactly what the old secret sealed.
public struct MailCredentials: Sendable {
    package let key: SymmetricKey
    package let keyID: String

    public init(secret: [UInt8]) {
        let root = SymmetricKey(data: secret)
        key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Data("nudge-mail-credential-v1".utf8), using: root)))
        keyID = HMAC<SHA256>.authenticationCode(for: Data("nudge-key-id-v1".utf8), using: root).prefix(6)
            .map { String(format: "%02x", $0) }.joined()
    }

    /// `service`: "smtp" or "imap", so one account's sealed password does not open as the other's.
    package func seal(_ password: String, org: String, inboxID: String, service: String = "smtp") throws -> [UInt8] {
        try seal(Array(password.utf8), binding: "\(org)/\(inboxID)/\(service)")
    }

    package func open(_ sealed: [UInt8], org: String, inboxID: String, service: String = "smtp") throws -> String {
        String(decoding: try open(sealed, binding: "\(org)/\(inboxID)/\(service)"), as: UTF8.self)
    }

    /// A domain's private key of one algorithm (`ed25519-sha256`, `rsa-sha256`).
    package func seal(key: [UInt8], org: String, domainID: String, algorithm: String) throws -> [UInt8] {
        try seal(key, binding: "\(org)/\(domainID)/\(algorithm)")
    }

    package func open(key sealed: [UInt8], org: String, domainID: String, algorithm: String) throws -> [UInt8] {
        try open(sealed, binding: "\(org)/\(domainID)/\(algorithm)")
    }

    private func seal(_ plain: [UInt8], binding: String) throws -> [UInt8] {
        Array(try AES.GCM.seal(plain, using: key, authenticating: Data(binding.utf8)).combined!)
    }

    private func open(_ sealed: [UInt8], binding: String) throws -> [UInt8] {
        Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(binding.utf8)))
    }
}
