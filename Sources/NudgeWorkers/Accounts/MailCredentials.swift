import Crypto
import Foundation

/// Mail account passwords at rest: AES-GCM under a key derived from `NUDGE_SECRET`, with the
/// organization and the inbox bound in as associated data (a sealed password copied to another
/// row does not open). `keyID` names the secret without revealing it; each sealed value is stored
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

    package func seal(_ password: String, org: String, inboxID: String) throws -> [UInt8] {
        Array(try AES.GCM.seal(Data(password.utf8), using: key, authenticating: Self.binding(org, inboxID)).combined!)
    }

    package func open(_ sealed: [UInt8], org: String, inboxID: String) throws -> String {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return String(decoding: try AES.GCM.open(box, using: key, authenticating: Self.binding(org, inboxID)), as: UTF8.self)
    }

    private static func binding(_ org: String, _ inboxID: String) -> Data { Data("\(org)/\(inboxID)/smtp".utf8) }
}
