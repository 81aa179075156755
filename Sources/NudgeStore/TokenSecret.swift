import Crypto
import Foundation
import NudgeCore

/// API token secrets: `nudge_` + 43 base62 characters (256 random bits) + a 6-character CRC32
/// checksum, so secret scanners can recognise them and typos fail without a database lookup.
/// Only the SHA-256 of the secret is ever stored.
public enum TokenSecret {
    package static let prefix = "nudge_"
    package static let bodyLength = 43
    package static let checksumLength = 6

    public static func generate() -> String {
        let body = Base62.random(count: bodyLength)
        return prefix + body + checksum(body)
    }

    /// Shape and checksum check; true does not mean the token exists.
    public static func isWellFormed(_ secret: String) -> Bool {
        guard secret.hasPrefix(prefix), secret.utf8.count == prefix.utf8.count + bodyLength + checksumLength else { return false }
        let rest = secret.dropFirst(prefix.count)
        guard Base62.isBase62(rest) else { return false }
        let body = String(rest.prefix(bodyLength))
        return rest.suffix(checksumLength) == checksum(body)
    }

    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    package static func checksum(_ body: String) -> String {
        Base62.encode(UInt64(crc32(Array(body.utf8))), width: checksumLength)
    }

    package static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
