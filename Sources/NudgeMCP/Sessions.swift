import Crypto
import Foundation
import NudgeCore
import Synchronization

/// `Mcp-Session-Id`s that need no table: a random part and an HMAC of it with the token's id, so a
/// session is valid on any process that shares the secret (and across restarts), and only for the
/// token that opened it. `DELETE /mcp` ends one on this process: the ended ids are kept in memory,
/// bounded; an id forgotten there is still only usable with its own token.
package final class MCPSessions: Sendable {
    private let key: SymmetricKey
    private let ended = Mutex<Set<String>>([])
    static let maxEnded = 100_000

    package init(secret: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data("nudge-mcp-session".utf8), outputByteCount: 32)
    }

    package func open(tokenID: String) -> String {
        let nonce = Base62.random(count: 22)
        return "mcps_\(nonce)_\(mac(nonce, tokenID))"
    }

    package func isValid(_ id: String, tokenID: String) -> Bool {
        let parts = id.split(separator: "_", omittingEmptySubsequences: false)
        guard id.utf8.count <= 128, parts.count == 3, parts[0] == "mcps" else { return false }
        guard mac(String(parts[1]), tokenID) == parts[2] else { return false }
        return !ended.withLock { $0.contains(id) }
    }

    package func end(_ id: String) {
        ended.withLock { set in
            if set.count >= Self.maxEnded { set.removeAll(keepingCapacity: true) }
            set.insert(id)
        }
    }

    private func mac(_ nonce: String, _ tokenID: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(nonce)\u{0}\(tokenID)".utf8), using: key)
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: code.prefix(16).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
