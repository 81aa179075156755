import Foundation

/// Extracts failed recipients, status codes and the original Message-ID from a bounce:
/// RFC 3464 message/delivery-status first, then Amazon SES/SNS JSON, then the free-text
/// formats of ~70 MTAs (Exim, qmail, Postfix, Sendmail, Gmail, Yahoo, Exchange, ...).
public enum BounceParser {
    public static func parse(_ root: MIMEPart, text: String) -> BounceReport {
        let subject = root.header("Subject") ?? ""
        let (notice, returned) = splitNotification(text)
        let original = OriginalMessage.attached(in: root) ?? OriginalMessage.inline(in: returned)
        var report = BounceReport(originalMessageID: original?.messageID, originalRecipients: original?.to ?? [], originalSubject: original?.subject)

        // 1. RFC 3464 delivery-status parts; some MTAs paste the same fields into the text body.
        for part in root.allParts(intoEmbedded: false) where part.contentType.hasSuffix("delivery-status") {
            addDeliveryStatus(HeaderParsing.parseGroups(part.body), to: &report)
        }
        if report.recipients.isEmpty, text.range(of: "Final-Recipient:", options: .caseInsensitive) != nil {
            addDeliveryStatus(HeaderParsing.parseGroups(Array(text.utf8)), to: &report)
        }
        // 2. Amazon SES notifications delivered as JSON mail.
        if report.recipients.isEmpty, let ses = SESNotification.parse(text), ses.type != "complaint" {
            report.recipients = ses.recipients
            report.originalMessageID = report.originalMessageID ?? ses.messageID
        }
        // 3. Free text: addresses named in the notification that are not the sender's own.
        if report.recipients.isEmpty {
            report.recipients = recipientsFromText(
                notice, excluding: ownAddresses(root, original).union(messageIDs(in: text, original)), subject: subject)
        }
        // 4. Last resort: the returned message's To, else the envelope recipient of its Received headers.
        if report.recipients.isEmpty, let to = (original?.to).flatMap({ $0.isEmpty ? nil : $0 }) ?? original?.receivedFor {
            let status = TextScan.firstStatus(in: notice)
            report.recipients = to.map {
                BounceRecipient(
                    address: $0, status: status, action: nil, diagnostic: diagnosticLine(notice),
                    permanent: isPermanent(status: status, action: nil, text: notice, subject: subject))
            }
        }
        // A bounce of mail sent to oneself names the sender's own address: retry excluding only the reporter.
        if report.recipients.isEmpty {
            let reporter = Set(MailAddress.parseList(root.headers.first(named: "From")?.rawValue ?? "").map { $0.address.lowercased() })
            report.recipients = recipientsFromText(notice, excluding: reporter.union(messageIDs(in: text, original)), subject: subject)
        }
        if report.originalMessageID == nil, let v = TextScan.headerLineValue("Message-ID", in: returned) {
            report.originalMessageID = MessageID.parse(v)
        }
        return report
    }

    private static func addDeliveryStatus(_ groups: [[MIMEHeader]], to report: inout BounceReport) {
        if report.reportingMTA == nil { report.reportingMTA = groups.first?.first(named: "Reporting-MTA").map { stripType($0.value) } }
        for g in groups {
            guard let rcpt = g.first(named: "Final-Recipient") ?? g.first(named: "Original-Recipient") else { continue }
            var address = stripType(rcpt.value).trimmingCharacters(in: ["<", ">", " "])
            // A source route (`@relay:user@host`) keeps only the address.
            if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") { address = String(address[address.index(after: colon)...]) }
            guard !address.isEmpty else { continue }
            let action = g.first(named: "Action")?.value.lowercased().trimmed
            let status = g.first(named: "Status").flatMap { TextScan.firstStatus(in: $0.value) ?? $0.value.trimmed.nilIfEmpty }
            let diag = g.first(named: "Diagnostic-Code").map { stripType($0.value) }
            report.recipients.append(
                BounceRecipient(
                    address: address, status: status, action: action, diagnostic: diag,
                    permanent: isPermanent(status: status, action: action, diagnostic: diag, text: diag ?? "", subject: "")))
        }
    }

    /// Splits a plain-text bounce into the notification and the returned original message.
    static func splitNotification(_ text: String) -> (notice: String, returned: String) {
        let markers = [
            "this is a copy of the message", "below this line is a copy of the message", "original message follows",
            "original message", "returned message", "unsent message below", "message headers follow", "content-type: message/rfc822",
            "original mail as follows", "headers of the original message", "header of the original message", "original message header",
            "included is a copy of", "your message reads", "message text follows", "copy of original message", "undelivered message attached",
        ]
        var offset = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = line.lowercased().trimmed
            // A marker counts only on a separator-like line ("------ ... ------") or a short line,
            // not inside a sentence such as "The original message was received at ...".
            let separatorLike = l.first.map { "-=*#_<[(".contains($0) } ?? false || l.count < 45
            if (separatorLike && markers.contains(where: { l.containsText($0) })) || l.hasPrefix("return-path:") || l.hasPrefix("received:") {
                let idx = text.utf8.index(text.utf8.startIndex, offsetBy: offset)
                return (String(text[..<idx]), String(text[idx...]))
            }
            offset += line.utf8.count + 1
        }
        return (text, "")
    }

    /// Addresses that belong to the sender side or the reporting system, never failed recipients.
    private static func ownAddresses(_ root: MIMEPart, _ original: OriginalMessage?) -> Set<String> {
        var own = Set<String>()
        func collect(_ names: [String], from headers: [MIMEHeader]) {
            for h in headers where names.contains(where: { h.name.equalsIgnoringASCIICase($0) }) {
                for a in MailAddress.parseList(h.rawValue) { own.insert(a.address.lowercased()) }
            }
        }
        // Not Delivered-To/X-Original-To: some MTAs (DragonFly) put the failed recipient there.
        collect(["From", "To", "Cc", "Reply-To", "Return-Path", "Sender", "Errors-To"], from: root.headers)
        collect(["From", "Sender", "Return-Path", "Reply-To"], from: original?.headers ?? [])
        return own
    }

    /// Message-IDs quoted anywhere in the text look like addresses but never are recipients.
    private static func messageIDs(in text: String, _ original: OriginalMessage?) -> Set<String> {
        var ids = Set(original.flatMap(\.messageID).map { [$0.lowercased()] } ?? [])
        for line in text.split(separator: "\n")
        where line.range(of: "message-id", options: .caseInsensitive) != nil || line.range(of: " id <", options: .caseInsensitive) != nil {
            for id in MessageID.parseList(String(line)) { ids.insert(id.lowercased()) }
        }
        return ids
    }

    static let systemLocalParts: Set<String> = [
        "mailer-daemon", "postmaster", "post_master", "double-bounce", "abuse", "noreply", "no-reply", "root", "mail-daemon", "mailerdaemon",
        "hostmaster", "webmaster",
    ]

    static func recipientsFromText(_ notice: String, excluding own: Set<String>, subject: String) -> [BounceRecipient] {
        let found = TextScan.addresses(in: notice).filter { a in
            let lower = a.address.lowercased()
            let local = lower.split(separator: "@").first.map(String.init) ?? ""
            return !own.contains(lower) && !systemLocalParts.contains(local) && !lower.hasPrefix("owner-") && !lower.contains("-owner@")
        }
        var seen = Set<String>()
        let unique = found.filter { seen.insert($0.address.lowercased()).inserted }
        let ns = notice as NSString
        var out: [BounceRecipient] = []
        for (n, a) in unique.prefix(50).enumerated() {
            // The recipient's own paragraph: up to the next recipient (or 1000 characters).
            let end = n + 1 < unique.count ? max(unique[n + 1].offset, a.offset) : ns.length
            let segment = ns.substring(with: NSRange(location: a.offset, length: min(end - a.offset, 1000)))
            let status = TextScan.firstStatus(in: segment) ?? TextScan.firstStatus(in: notice)
            let diag = diagnosticLine(segment) ?? diagnosticLine(notice)
            out.append(
                BounceRecipient(
                    address: a.address, status: status, action: nil, diagnostic: diag,
                    permanent: isPermanent(status: status, action: nil, diagnostic: diag, text: notice, subject: subject)))
        }
        for i in out.indices { out[i].action = out[i].permanent ? "failed" : "delayed" }
        return out
    }

    /// The first line that carries an SMTP reply code or enhanced status.
    static func diagnosticLine(_ text: String) -> String? {
        for line in text.split(separator: "\n") {
            let l = String(line).trimmed
            if TextScan.firstSMTPCode(in: l) != nil || TextScan.firstStatus(in: l) != nil { return String(l.prefix(500)) }
        }
        return nil
    }

    /// 5.x.x is permanent and 4.x.x is not; otherwise decide from the action and wording.
    static func isPermanent(status: String?, action: String?, diagnostic: String? = nil, text: String, subject: String) -> Bool {
        if let s = status?.first {
            if s == "5" { return true }
            if s == "4" || s == "2" { return false }
        }
        if let a = action {
            if a.hasPrefix("failed") { return true }
            if a.hasPrefix("delayed") || a.hasPrefix("delivered") || a.hasPrefix("relayed") || a.hasPrefix("expanded") { return false }
        }
        if let code = diagnostic.flatMap(TextScan.firstSMTPCode(in:)) { return code.hasPrefix("5") }
        let all = (subject + "\n" + text).lowercased()
        let temporary = [
            "delayed", "delay", "will retry", "will be retried", "still trying", "temporary", "temporarily", "deferred", "not yet been delivered",
            "warning:",
        ]
        if temporary.contains(where: { all.contains($0) }) { return false }
        if let code = TextScan.firstSMTPCode(in: text), code.hasPrefix("4") { return false }
        return true
    }

    /// "rfc822; user@example.com" -> "user@example.com".
    static func stripType(_ v: String) -> String {
        guard let semi = v.firstIndex(of: ";") else { return v.trimmed }
        return String(v[v.index(after: semi)...]).trimmed
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
