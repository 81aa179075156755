import Crypto
import Foundation

public enum DKIMSignError: Error, Sendable, Equatable {
    /// RFC 6376 5.4: the From field must be signed, so a message without one cannot be.
    case missingFromHeader
    case noKeys
    /// Domain or selector contains characters that would break the tag list.
    case invalidTagValue(String)
}

/// Signs RFC 5322 messages with DKIM (RFC 6376), relaxed/relaxed, one DKIM-Signature per key
/// (RFC 8463 recommends Ed25519 and RSA side by side while receivers catch up).
public struct DKIMSigner: Sendable {
    /// The headers Nudge signs when present, in this order. Each occurrence is signed.
    public static let signedHeaderNames: [String] = [
        "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
        "reply-to", "mime-version", "content-type", "content-transfer-encoding",
        "list-unsubscribe", "list-unsubscribe-post",
    ]

    public var domain: String
    public var keys: [DKIMSigningKey]

    public init(domain: String, keys: [DKIMSigningKey]) {
        self.domain = domain
        self.keys = keys
    }

    /// Returns `message` (normalized to CRLF) with one DKIM-Signature header per key prepended,
    /// in the order of `keys`. `timestamp` becomes `t=`; tests inject a fixed one.
    public func sign(message: [UInt8], timestamp: Date = Date()) throws -> [UInt8] {
        guard !keys.isEmpty else { throw DKIMSignError.noKeys }
        try Self.checkTagValue(domain)
        for key in keys { try Self.checkTagValue(key.selector) }

        let normalized = DKIMCanonicalization.normalizeLineEndings(message)
        let parsed = DKIMCanonicalization.split(normalized)
        guard parsed.headers.contains(where: { $0.lowercasedName == "from" }) else {
            throw DKIMSignError.missingFromHeader
        }

        let bodyHash = Data(SHA256.hash(data: DKIMCanonicalization.relaxedBody(parsed.body)))
            .base64EncodedString()
        let (headerList, canonicalHeaders) = Self.selectHeaders(parsed.headers)
        let seconds = max(0, Int64(timestamp.timeIntervalSince1970.rounded(.down)))

        var prefix: [UInt8] = []
        for key in keys {
            let tags = [
                "v=1", "a=\(key.key.algorithm.rawValue)", "c=relaxed/relaxed",
                "d=\(domain)", "s=\(key.selector)", "t=\(seconds)",
            ]
            var folder = DKIMHeaderFolder()
            for tag in tags { folder.appendTag(tag) }
            folder.appendList(tag: "h", items: headerList, separator: ":")
            folder.appendBase64(tag: "bh", value: bodyHash)
            folder.beginEmptySignatureTag()
            let unsigned = folder.text

            // RFC 6376 3.7: the signature covers the signed headers and then this very header,
            // canonicalized, with an empty b= value and without its trailing CRLF.
            var hashInput = canonicalHeaders
            let colon = unsigned.firstIndex(of: ":") ?? unsigned.endIndex
            hashInput += DKIMCanonicalization.relaxedHeader(
                name: Array(unsigned[..<colon].utf8),
                value: Array(unsigned[unsigned.index(after: colon)...].utf8))
            let signature = try key.key.signature(forSHA256: SHA256.hash(data: hashInput))
            folder.finishSignature(Data(signature).base64EncodedString())
            prefix += Array(folder.text.utf8) + [13, 10]
        }
        return prefix + normalized
    }

    /// Builds the h= list (each present occurrence, plus one extra "from" so a From added in
    /// transit breaks the signature) and the canonical bytes it covers. RFC 6376 5.4.2: repeated
    /// names consume instances from the bottom of the header block upwards.
    static func selectHeaders(_ headers: [RawHeaderField]) -> (names: [String], canonical: [UInt8]) {
        var instances: [String: [RawHeaderField]] = [:]
        for field in headers { instances[field.lowercasedName, default: []].append(field) }
        var names: [String] = []
        var canonical: [UInt8] = []
        for name in signedHeaderNames {
            var remaining = instances[name] ?? []
            while let field = remaining.popLast() {
                names.append(name)
                canonical += DKIMCanonicalization.relaxedHeader(name: field.name, value: field.value)
                canonical += [13, 10]
            }
        }
        // The oversigning entry matches no instance, so it contributes no bytes (RFC 6376 5.4).
        names.append("from")
        return (names, canonical)
    }

    private static func checkTagValue(_ value: String) throws {
        let allowed = value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
        }
        guard allowed, !value.isEmpty else { throw DKIMSignError.invalidTagValue(value) }
    }
}

/// Lays out the DKIM-Signature header as folded lines shorter than 78 characters.
/// Folding uses CRLF + SP only where RFC 6376 allows FWS: between tags, after ":" in h=,
/// and anywhere inside base64 values.
struct DKIMHeaderFolder {
    private static let maxLine = 76  // leave room so no line reaches 78 with CRLF excluded
    private(set) var lines: [String] = ["DKIM-Signature:"]

    var text: String { lines.joined(separator: "\r\n") }

    private var current: String {
        get { lines[lines.count - 1] }
        set { lines[lines.count - 1] = newValue }
    }

    /// Adds `piece` after a space, or on a new continuation line if it does not fit.
    private mutating func appendSeparated(_ piece: String) {
        if current.count + 1 + piece.count > Self.maxLine {
            lines.append(" " + piece)
        } else {
            current += " " + piece
        }
    }

    private mutating func terminatePreviousTag() {
        // Tags are separated by ";"; the header name line has no tag yet.
        if lines.count > 1 || current != "DKIM-Signature:" { current += ";" }
    }

    mutating func appendTag(_ tag: String) {
        terminatePreviousTag()
        appendSeparated(tag)
    }

    mutating func appendList(tag: String, items: [String], separator: String) {
        terminatePreviousTag()
        for (index, item) in items.enumerated() {
            let last = index == items.count - 1
            let piece = (index == 0 ? "\(tag)=" : "") + item + (last ? "" : separator)
            if index == 0 {
                appendSeparated(piece)
            } else if current.count + piece.count + 1 > Self.maxLine {
                lines.append(" " + piece)
            } else {
                current += piece
            }
        }
    }

    mutating func appendBase64(tag: String, value: String) {
        terminatePreviousTag()
        appendSeparated("\(tag)=")
        appendBase64Chunks(value)
    }

    /// Starts `b=` on its own line so the unsigned text ends exactly at "b=", which is what a
    /// verifier reconstructs after deleting the b= value (RFC 6376 3.5, 3.7).
    mutating func beginEmptySignatureTag() {
        terminatePreviousTag()
        lines.append(" b=")
    }

    mutating func finishSignature(_ base64: String) {
        appendBase64Chunks(base64)
    }

    private mutating func appendBase64Chunks(_ value: String) {
        var rest = Substring(value)
        while !rest.isEmpty {
            // Reserve one character for a following ";".
            var room = Self.maxLine - 1 - current.count
            if room < 8 {
                lines.append(" ")
                room = Self.maxLine - 2
            }
            current += rest.prefix(room)
            rest = rest.dropFirst(room)
        }
    }
}
