/// The copy of our original message that bounces and complaints return: an attached
/// message/rfc822 or text/rfc822-headers part, or (for plain-text bounces) headers quoted
/// inline after a marker such as "------ This is a copy of the message".
struct OriginalMessage {
    var headers: [MIMEHeader]

    var messageID: String? { headers.first(named: "Message-ID").flatMap { MessageID.parse($0.rawValue) } }
    var to: [String] {
        headers.filter { $0.name.lowercased() == "to" }.flatMap { MailAddress.parseList($0.rawValue) }.map(\.address).filter { !$0.isEmpty }
    }
    var subject: String? { headers.first(named: "Subject")?.value }

    /// Envelope recipients from "Received: ... for <addr>;" clauses (first one that has any).
    var receivedFor: [String]? {
        for h in headers where h.name.lowercased() == "received" {
            let value = h.rawValue.replacingOccurrences(of: "\t", with: " ")
            guard let r = value.range(of: " for ", options: .caseInsensitive) else { continue }
            let rest = value[r.upperBound...].prefix(while: { $0 != ";" })
            let addrs = TextScan.addresses(in: String(rest)).map(\.address)
            if !addrs.isEmpty { return addrs }
        }
        return nil
    }

    /// The first embedded message outside other embedded messages.
    static func attached(in root: MIMEPart) -> OriginalMessage? {
        for p in root.allParts(intoEmbedded: false) {
            if let m = p.embeddedMessage, !m.headers.isEmpty { return OriginalMessage(headers: m.headers) }
        }
        return nil
    }

    /// Headers quoted inline in a notification text, found by scanning for a header block that
    /// contains a Message-ID, To or Subject line. `text` should be the part after the notification.
    static func inline(in text: String) -> OriginalMessage? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Find the first line that starts a header block ("Name: value", a known header name).
        let starters = [
            "received:", "return-path:", "from:", "to:", "subject:", "message-id:", "date:", "delivered-to:", "x-", "mime-version:", "content-type:",
            "dkim-signature:",
        ]
        var attempts = 0
        for (i, raw) in lines.enumerated() where attempts < 20 {
            let l = raw.drop(while: { $0 == " " || $0 == "\t" || $0 == ">" }).lowercased()
            guard starters.contains(where: { l.hasPrefix($0) }), l.contains(":") else { continue }
            attempts += 1
            // Re-indent: quoted copies are often indented; strip the common leading indentation.
            let indent = raw.prefix(while: { $0 == " " || $0 == "\t" || $0 == ">" }).count
            let block = lines[i...].prefix(400).map { line -> Substring in
                let lead = line.prefix(while: { $0 == " " || $0 == "\t" || $0 == ">" }).count
                return line.dropFirst(min(lead, indent))
            }.joined(separator: "\n")
            let bytes = Array(block.utf8)
            let (headers, _) = HeaderParsing.parse(bytes, start: 0, end: bytes.count)
            if headers.contains(where: { ["message-id", "to", "subject"].contains($0.name.lowercased()) }) {
                return OriginalMessage(headers: headers)
            }
            if headers.count >= 3 { return OriginalMessage(headers: headers) }
        }
        return nil
    }
}
