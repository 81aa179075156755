import Crypto
import Foundation

/// Webhook signing secrets: `whsec_` + base64 of 32 random bytes (Standard Webhooks), kept in the
/// database sealed with AES-GCM under a key derived from `NUDGE_SECRET`, the organization and the
/// endpoint bound in as associated data (a sealed secret copied to another row does not open).
public struct WebhookSecrets: Sendable {
    package let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(
            data: Array(HMAC<SHA256>.authenticationCode(for: Data("nudge-webhook-secret-v1".utf8), using: SymmetricKey(data: secret))))
    }

    /// A new secret as shown to the caller.
    package static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    /// The key bytes a `whsec_` secret stands for (what the HMAC uses).
    package static func keyBytes(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_"), let d = Data(base64Encoded: String(secret.dropFirst(6))) else { return nil }
        return Array(d)
    }

    package func seal(_ secret: String, org: String, webhookID: String) throws -> [UInt8] {
        Array(try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data("\(org)/\(webhookID)".utf8)).combined!)
    }

    package func open(_ sealed: [UInt8], org: String, webhookID: String) throws -> String {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return String(decoding: try AES.GCM.open(box, using: key, authenticating: Data("\(org)/\(webhookID)".utf8)), as: UTF8.self)
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, space-separated.
    package static func signature(id: String, timestamp: Int, body: [UInt8], secrets: [String]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        return secrets.compactMap { s in
            guard let k = keyBytes(s) else { return nil }
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: k))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }
}
