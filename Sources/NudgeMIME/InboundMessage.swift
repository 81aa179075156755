import Foundation

public enum InboundClass: String, Sendable, Codable {
    case humanReply = "human_reply"
    case autoReply = "auto_reply"
    case bounce, complaint, other
}

/// Everything the server needs from one inbound message.
public struct InboundMessage: Sendable {
    public var messageID: String?
    public var inReplyTo: [String]
    public var references: [String]
    public var from: MailAddress?
    public var to: [MailAddress]
    public var cc: [MailAddress]
    public var replyTo: [MailAddress]
    public var subject: String
    public var date: Date?
    public var headers: [MIMEHeader]
    /// text/plain preferred, else HTML converted to readable text.
    public var text: String
    /// The new text of a reply, without quoted history and attribution lines.
    public var replyText: String
    public var classification: InboundClass
    public var bounce: BounceReport?
    public var complaint: ComplaintReport?
    /// The parsed MIME tree, for callers that need attachments or other parts.
    public var mime: MIMEMessage

    /// Parses and classifies a raw RFC 5322 message. Never fails; malformed input yields
    /// empty fields and (usually) `.other` or `.humanReply`.
    public static func analyze(_ raw: [UInt8]) -> InboundMessage {
        let root = MIMEParser.parse(raw)
        let h = root.headers
        func addresses(_ name: String) -> [MailAddress] {
            h.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.flatMap { MailAddress.parseList($0.rawValue) }
        }
        let text = BodyText.mainText(root)
        var msg = InboundMessage(
            messageID: h.first(named: "Message-ID").flatMap { MessageID.parse($0.rawValue) },
            inReplyTo: h.first(named: "In-Reply-To").map { MessageID.parseList($0.rawValue) } ?? [],
            references: h.first(named: "References").map { MessageID.parseList($0.rawValue) } ?? [],
            from: addresses("From").first,
            to: addresses("To"), cc: addresses("Cc"), replyTo: addresses("Reply-To"),
            subject: h.first(named: "Subject")?.value ?? "",
            date: h.first(named: "Date").flatMap { MailDate.parse($0.rawValue) },
            headers: h, text: text, replyText: "", classification: .other,
            bounce: nil, complaint: nil, mime: root)
        let verdict = Classifier.classify(root, text: text)
        msg.classification = verdict.classification
        msg.bounce = verdict.bounce
        msg.complaint = verdict.complaint
        msg.replyText = ReplyText.extract(text)
        return msg
    }

    /// Decoded value of the first header with this name.
    public func header(_ name: String) -> String? { headers.first(named: name)?.value }
}

/// Chooses the readable body of a message.
public enum BodyText {
    /// First inline text/plain part outside embedded messages; else the first text/html
    /// converted to text; then the same search inside embedded messages; else "".
    public static func mainText(_ root: MIMEPart) -> String {
        for intoEmbedded in [false, true] {
            let parts = root.allParts(intoEmbedded: intoEmbedded).filter { !$0.isAttachment }
            if let p = parts.first(where: { $0.contentType == "text/plain" }) { return p.text }
            if let p = parts.first(where: { $0.contentType == "text/html" }) { return HTMLText.toText(p.text) }
            // A multipart whose boundary never occurs keeps its raw body: still readable text.
            if let p = parts.first(where: { $0.isMultipart && $0.children.isEmpty && !$0.body.isEmpty }) { return p.text }
        }
        return ""
    }
}
