import Crypto
import Foundation
import _CryptoExtras

/// The DKIM signing algorithms Nudge supports. The raw value is the `a=` tag value,
/// so it can also be stored next to the exported key bytes.
public enum DKIMAlgorithm: String, Sendable, CaseIterable, Codable {
    case ed25519SHA256 = "ed25519-sha256"
    case rsaSHA256 = "rsa-sha256"

    /// The `k=` tag of the DNS key record.
    public var keyType: String {
        switch self {
        case .ed25519SHA256: "ed25519"
        case .rsaSHA256: "rsa"
        }
    }
}

public enum DKIMKeyError: Error, Sendable, Equatable {
    /// The stored bytes are not a key of the stated algorithm (wrong length, bad DER, ...).
    case invalidKeyBytes(DKIMAlgorithm)
    /// RSA keys below 2048 bits are refused: receivers increasingly reject them (RFC 8301).
    case rsaKeyTooSmall(bits: Int)
}

/// A DKIM private key, Sendable value type.
public struct DKIMPrivateKey: Sendable {
    // swift-crypto's Curve25519 key is not marked Sendable on Linux, so Ed25519 keeps its
    // validated 32 raw bytes and rebuilds the key per signature (cheap: no parsing).
    private enum Storage: Sendable {
        case ed25519(raw: [UInt8])
        case rsa(_RSA.Signing.PrivateKey)
    }

    private let storage: Storage

    /// A fresh Ed25519 key (RFC 8463).
    public static func generateEd25519() -> DKIMPrivateKey {
        DKIMPrivateKey(storage: .ed25519(raw: Array(Curve25519.Signing.PrivateKey().rawRepresentation)))
    }

    /// A fresh RSA-2048 key, the size most receivers expect alongside Ed25519.
    public static func generateRSA2048() throws -> DKIMPrivateKey {
        DKIMPrivateKey(storage: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
    }

    private init(storage: Storage) { self.storage = storage }

    /// Re-imports bytes produced by `exportedBytes`. RSA accepts PKCS#1 or PKCS#8 DER.
    public init(algorithm: DKIMAlgorithm, exportedBytes: [UInt8]) throws {
        switch algorithm {
        case .ed25519SHA256:
            guard exportedBytes.count == 32,
                (try? Curve25519.Signing.PrivateKey(rawRepresentation: exportedBytes)) != nil
            else { throw DKIMKeyError.invalidKeyBytes(algorithm) }
            storage = .ed25519(raw: exportedBytes)
        case .rsaSHA256:
            // The non-"unsafe" initializer already refuses < 2048 bits, but with a generic
            // error; decode leniently first so the caller learns why.
            guard let key = try? _RSA.Signing.PrivateKey(unsafeDERRepresentation: exportedBytes) else {
                throw DKIMKeyError.invalidKeyBytes(algorithm)
            }
            guard key.keySizeInBits >= 2048 else { throw DKIMKeyError.rsaKeyTooSmall(bits: key.keySizeInBits) }
            storage = .rsa(key)
        }
    }

    public var algorithm: DKIMAlgorithm {
        switch storage {
        case .ed25519: .ed25519SHA256
        case .rsa: .rsaSHA256
        }
    }

    /// Bytes to store (encrypted at rest by the caller): the raw 32-byte Ed25519 seed, or
    /// the PKCS#1 RSAPrivateKey DER for RSA.
    public var exportedBytes: [UInt8] {
        switch storage {
        case .ed25519(let raw): raw
        case .rsa(let key): Array(key.derRepresentation)
        }
    }

    /// The public key bytes that go into `p=`: raw 32 bytes for Ed25519 (RFC 8463 4.2),
    /// SubjectPublicKeyInfo DER for RSA (RFC 6376 3.6.1).
    public var publicKeyBytes: [UInt8] {
        switch storage {
        case .ed25519(let raw):
            // Bytes were validated at construction, so this cannot fail in practice.
            (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)).map { Array($0.publicKey.rawRepresentation) } ?? []
        case .rsa(let key): Array(key.publicKey.derRepresentation)
        }
    }

    /// The TXT record value to publish at `<selector>._domainkey.<domain>`.
    public var dnsTXTRecordValue: String {
        "v=DKIM1; k=\(algorithm.keyType); p=\(Data(publicKeyBytes).base64EncodedString())"
    }

    /// Signs the already-hashed canonical data as RFC 6376 3.7 / RFC 8463 3 require.
    func signature(forSHA256 digest: SHA256.Digest) throws -> [UInt8] {
        switch storage {
        case .ed25519(let raw):
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
            // RFC 8463: PureEdDSA over the 32-byte SHA-256 hash, not over the data itself.
            return Array(try key.signature(for: Data(digest)))
        case .rsa(let key):
            return Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }
}

/// A key together with the selector its public half is published under. Each algorithm
/// needs its own selector because one DNS key record holds one `k=` type.
public struct DKIMSigningKey: Sendable {
    public var selector: String
    public var key: DKIMPrivateKey

    public init(selector: String, key: DKIMPrivateKey) {
        self.selector = selector
        self.key = key
    }
}
