/// One node of a parsed MIME tree. A whole message is its root part (`MIMEMessage`).
/// For `message/rfc822` and `text/rfc822-headers` parts the embedded message is the single child.
public struct MIMEPart: Sendable {
    public var headers: [MIMEHeader]
    /// Lowercased "type/subtype"; text/plain when absent or invalid (RFC 2045 5.2).
    public var contentType: String
    /// Content-Type parameters (lowercased names, RFC 2231 decoded).
    public var contentTypeParameters: [String: String]
    /// Body after Content-Transfer-Encoding decoding (empty for multiparts and embedded messages).
    public var body: [UInt8]
    /// Multipart children, or the embedded message of message/rfc822 and text/rfc822-headers.
    public var children: [MIMEPart]

    public init(headers: [MIMEHeader], contentType: String, contentTypeParameters: [String: String], body: [UInt8], children: [MIMEPart]) {
        self.headers = headers
        self.contentType = contentType
        self.contentTypeParameters = contentTypeParameters
        self.body = body
        self.children = children
    }

    /// Decoded value of the first header with this name (case-insensitive).
    public func header(_ name: String) -> String? { headers.first(named: name)?.value }

    public var isMultipart: Bool { contentType.hasPrefix("multipart/") }
    public var charset: String? { contentTypeParameters["charset"] }

    /// The message embedded by message/rfc822 or text/rfc822-headers, if any.
    public var embeddedMessage: MIMEPart? {
        (contentType == "message/rfc822" || contentType == "text/rfc822-headers" || contentType == "message/global") ? children.first : nil
    }

    /// Body decoded to text using the declared charset (lossy fallback, never fails), with
    /// line endings normalized to "\n" (Swift treats "\r\n" as one Character, which breaks line splitting).
    public var text: String { Charsets.decode(body, charset: charset).normalizedLineEndings }

    public var isAttachment: Bool {
        guard let d = headers.first(named: "Content-Disposition") else { return false }
        return HeaderParameters(parsing: d.rawValue).value == "attachment"
    }

    /// Depth-first walk in document order, descending into embedded messages only if asked.
    public func walk(intoEmbedded: Bool = true, _ visit: (MIMEPart) -> Void) {
        var stack: [MIMEPart] = [self]
        while let p = stack.popLast() {
            visit(p)
            if p.embeddedMessage != nil && !intoEmbedded { continue }
            stack.append(contentsOf: p.children.reversed())
        }
    }

    /// All parts in walk order.
    public func allParts(intoEmbedded: Bool = true) -> [MIMEPart] {
        var out: [MIMEPart] = []
        walk(intoEmbedded: intoEmbedded) { out.append($0) }
        return out
    }
}

public typealias MIMEMessage = MIMEPart

extension String {
    /// CRLF and lone CR converted to LF. Byte by byte (CR is one UTF-8 byte, never part of
    /// another character): Foundation's two replacements bridged through NSString for every part.
    public var normalizedLineEndings: String {
        guard utf8.contains(13) else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var afterCR = false
        for b in utf8 {
            if b == 10 && afterCR {
                afterCR = false
                continue
            }
            afterCR = b == 13
            out.append(afterCR ? 10 : b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
