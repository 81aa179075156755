/// Complaint (feedback-loop) reports: ARF (RFC 5965), Hotmail/Outlook JMRP, Amazon SES JSON,
/// and Apple Mail's one-click unsubscribe notice.
public enum ComplaintParser {
    public static func parse(_ root: MIMEPart, text: String) -> ComplaintReport {
        let original = OriginalMessage.attached(in: root)
        var report = ComplaintReport(originalMessageID: original?.messageID)
        if let fb = root.allParts(intoEmbedded: false).first(where: { $0.contentType == "message/feedback-report" }) {
            let fields = HeaderParsing.parseGroups(fb.body).flatMap { $0 }
            report.feedbackType = fields.first(named: "Feedback-Type")?.value.lowercased().trimmed
            report.complainedAddresses = fields.filter { ["original-rcpt-to", "removal-recipient"].contains($0.name.lowercased()) }
                .map { BounceParser.stripType($0.value).trimmingCharacters(in: ["<", ">", " "]) }.filter { !$0.isEmpty }
        } else if let ses = SESNotification.parse(text), ses.type == "complaint" {
            report.feedbackType = ses.feedbackType ?? "abuse"
            report.complainedAddresses = ses.complained
            report.originalMessageID = report.originalMessageID ?? ses.messageID
        } else if let hm = original?.headers.first(named: "X-HmXmrOriginalRecipient") {
            report.feedbackType = "abuse"  // Microsoft JMRP reports are spam complaints
            report.complainedAddresses = [hm.value.trimmed]
        } else if root.header("X-Apple-Unsubscribe")?.lowercased().trimmed == "true" {
            // The person asked to unsubscribe: the complaint is about the sender of this notice.
            report.feedbackType = "unsubscribe"
            report.complainedAddresses = MailAddress.parseList(root.headers.first(named: "From")?.rawValue ?? "").map(\.address)
        }
        if report.complainedAddresses.isEmpty, let to = original?.to { report.complainedAddresses = to }
        return report
    }

    /// True when the message is a complaint in one of the supported formats.
    static func isComplaint(_ root: MIMEPart, text: String) -> Bool {
        if root.contentType == "multipart/report", root.contentTypeParameters["report-type"]?.lowercased() == "feedback-report" { return true }
        if root.allParts(intoEmbedded: false).contains(where: { $0.contentType == "message/feedback-report" }) { return true }
        if root.header("X-Apple-Unsubscribe")?.lowercased().trimmed == "true" { return true }
        if OriginalMessage.attached(in: root)?.headers.first(named: "X-HmXmrOriginalRecipient") != nil { return true }
        return SESNotification.parse(text)?.type == "complaint"
    }
}
