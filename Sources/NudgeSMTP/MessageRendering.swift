import Foundation

extension OutboundMessage {
    /// Headers `render()` writes itself; extra headers may not duplicate them.
    static let generatedHeaderNames: Set<String> = [
        "from", "sender", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
        "list-unsubscribe", "list-unsubscribe-post", "mime-version", "content-type", "content-transfer-encoding",
    ]

    /// The message as it goes on the wire (CRLF line endings, not dot-stuffed: libcurl does that).
    /// Throws `OutboundMessageError` naming the field on injection attempts or invalid syntax.
    public func render() throws -> [UInt8] {
        var head = ""
        head += try mailboxHeader("From", [from], field: "from")
        guard !to.isEmpty else { throw OutboundMessageError.noRecipients }
        head += try mailboxHeader("To", to, field: "to")

        try Validation.checkNoLineBreaks(subject, field: "subject")
        var subjectHeader = FoldedHeader(name: "Subject")
        HeaderEncoding.appendUnstructured(subject, to: &subjectHeader)
        head += subjectHeader.rendered

        head += "Date: \(RFC5322Date.format(date))\r\n"
        try Validation.checkMessageID(messageID, field: "messageID")
        head += "Message-ID: <\(messageID)>\r\n"
        if let inReplyTo {
            try Validation.checkMessageID(inReplyTo, field: "inReplyTo")
            head += "In-Reply-To: <\(inReplyTo)>\r\n"
        }
        if !references.isEmpty {
            var header = FoldedHeader(name: "References")
            for (i, id) in references.enumerated() {
                try Validation.checkMessageID(id, field: "references[\(i)]")
                header.append(" <\(id)>")
            }
            head += header.rendered
        }
        if let listUnsubscribeURL {
            try Validation.checkHeaderURL(listUnsubscribeURL, field: "listUnsubscribeURL")
            head += "List-Unsubscribe: <\(listUnsubscribeURL)>\r\n"
            head += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        }
        for (i, (name, value)) in extraHeaders.enumerated() {
            try Validation.checkNoLineBreaks(name, field: "extraHeaders[\(i)].name")
            try Validation.checkHeaderName(name, field: "extraHeaders[\(i)].name")
            guard !Self.generatedHeaderNames.contains(name.lowercased()) else {
                throw OutboundMessageError.reservedHeaderName(field: "extraHeaders[\(i)].name")
            }
            try Validation.checkNoLineBreaks(value, field: "extraHeaders[\(i)].value")
            var header = FoldedHeader(name: name)
            HeaderEncoding.appendUnstructured(value, to: &header)
            head += header.rendered
        }

        let (body, transferEncoding) = Self.encodeBody(textBody)
        head += "MIME-Version: 1.0\r\n"
        head += "Content-Type: text/plain; charset=utf-8\r\n"
        head += "Content-Transfer-Encoding: \(transferEncoding)\r\n"
        return Array(head.utf8) + [0x0D, 0x0A] + body
    }

    private func mailboxHeader(_ name: String, _ mailboxes: [EmailAddress], field: String) throws -> String {
        var header = FoldedHeader(name: name)
        for (i, mailbox) in mailboxes.enumerated() {
            let path = field == "from" ? "from" : "\(field)[\(i)]"
            try Validation.checkAddress(mailbox.address, field: "\(path).address")
            let separator = i < mailboxes.count - 1 ? "," : ""
            if let displayName = mailbox.name, !displayName.isEmpty {
                try Validation.checkNoLineBreaks(displayName, field: "\(path).name")
                HeaderEncoding.appendDisplayName(displayName, to: &header)
                header.append(" <\(mailbox.address)>" + separator)
            } else {
                header.append(" " + mailbox.address + separator)
            }
        }
        return header.rendered
    }

    /// 7bit when the body is ASCII without NUL and every line fits in 998 octets; otherwise
    /// quoted-printable. Always ends with CRLF (SMTP's end-of-data needs it).
    static func encodeBody(_ text: String) -> (body: [UInt8], transferEncoding: String) {
        var body = CRLF.normalize(text)
        if !body.suffix(2).elementsEqual([0x0D, 0x0A]) { body += [0x0D, 0x0A] }
        let is7bit =
            body.allSatisfy { $0 != 0 && $0 < 0x80 }
            && CRLF.lines(of: body).allSatisfy { $0.count <= 998 }
        return is7bit ? (body, "7bit") : (QuotedPrintable.encode(body), "quoted-printable")
    }
}
