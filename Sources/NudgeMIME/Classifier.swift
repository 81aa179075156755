/// Decides what an inbound message is. Order matters: reports (complaint, bounce) are checked
/// before auto-reply markers, because DSNs legitimately carry "Auto-Submitted: auto-replied".
public enum Classifier {
    public struct Verdict: Sendable {
        public var classification: InboundClass
        public var bounce: BounceReport?
        public var complaint: ComplaintReport?
    }

    public static func classify(_ root: MIMEPart, text: String) -> Verdict {
        if ComplaintParser.isComplaint(root, text: text) {
            return Verdict(classification: .complaint, bounce: nil, complaint: ComplaintParser.parse(root, text: text))
        }
        if isBounce(root, text: text) {
            return Verdict(classification: .bounce, bounce: BounceParser.parse(root, text: text), complaint: nil)
        }
        if isAutoReply(root) { return Verdict(classification: .autoReply, bounce: nil, complaint: nil) }
        if isMachineSender(root) { return Verdict(classification: .other, bounce: nil, complaint: nil) }
        return Verdict(classification: .humanReply, bounce: nil, complaint: nil)
    }

    // MARK: Bounces

    static func isBounce(_ root: MIMEPart, text: String) -> Bool {
        if root.contentType == "multipart/report", let rt = root.contentTypeParameters["report-type"]?.lowercased() {
            if rt.containsText("delivery-status") { return true }
        }
        let parts = root.allParts(intoEmbedded: false)
        if parts.contains(where: { $0.contentType == "message/delivery-status" || $0.contentType == "message/global-delivery-status" }) {
            return true
        }
        // SES notifications: bounces and delivery/delay reports are delivery status notifications.
        if let ses = SESNotification.parse(text), ses.type != "complaint" { return true }
        // Evidence first: it is cheaper than scoring the wording, and most replies have none.
        return hasMachineEvidence(root, text: text) && bounceScore(root, text: text) >= 4
    }

    /// Wording alone is not enough (people write "could not be delivered" too): require a
    /// machine sender, a returned original message, or an SMTP status code.
    static func hasMachineEvidence(_ root: MIMEPart, text: String) -> Bool {
        if let f = MailAddress.parseList(root.headers.first(named: "From")?.rawValue ?? "").first, isDaemon(f) || isNoReply(f) { return true }
        let returnPath = root.headers.first(named: "Return-Path")?.rawValue.lowercased().trimmed ?? ""
        if returnPath == "<>" || returnPath.containsText("mailer-daemon") { return true }
        if OriginalMessage.attached(in: root) != nil { return true }
        let notice = BounceParser.splitNotification(text).notice
        return TextScan.firstStatus(in: notice) != nil || TextScan.firstSMTPCode(in: notice) != nil
    }

    /// Evidence for a non-standard bounce. Each signal alone is weak (people write "undeliverable",
    /// vacation replies use a null sender), so several must agree.
    static func bounceScore(_ root: MIMEPart, text: String) -> Int {
        var score = 0
        let from = MailAddress.parseList(root.headers.first(named: "From")?.rawValue ?? "").first
        if let f = from, isDaemon(f) { score += 2 } else if let f = from, isNoReply(f) { score += 1 }
        let returnPath = root.headers.first(named: "Return-Path")?.rawValue.lowercased().trimmed ?? ""
        if returnPath == "<>" || returnPath.containsText("mailer-daemon") { score += 1 }
        let subject = (root.header("Subject") ?? "").lowercased()
        if bounceSubjects.contains(where: { subject.containsText($0) }) { score += 2 }
        let notice = BounceParser.splitNotification(text).notice.lowercased()
        let hits = bouncePhrases.filter { notice.containsText($0) }.count
        score += hits == 0 ? 0 : (hits == 1 ? 2 : 3)
        if TextScan.firstStatus(in: notice) != nil { score += 1 }
        return score
    }

    static func isDaemon(_ a: MailAddress) -> Bool {
        let local = a.address.lowercased().split(separator: "@").first.map(String.init) ?? ""
        if a.address.isEmpty || BounceParser.systemLocalParts.contains(local) && local != "noreply" && local != "no-reply" { return true }
        // Mailing-list managers (fml, majordomo) reject mail from their -admin/owner- addresses.
        if local.hasPrefix("owner-") || local.hasSuffix("-admin") || local.hasSuffix("-owner") || local.hasSuffix("-request") { return true }
        let name = (a.name ?? "").lowercased()
        return ["mailer-daemon", "mailer daemon", "mail delivery", "postmaster", "mail deliver"].contains { name.containsText($0) }
    }

    static let bounceSubjects = [
        "undeliver", "delivery status notification", "failure notice", "returned mail", "delivery fail", "mail delivery failed",
        "undelivered mail", "failed delivery", "failure delivery", "mail system error", "could not be delivered", "delayed mail",
        "mail failed", "returning message to sender", "non-delivery", "nondeliverable", "not delivered", "delivery notification",
        "delivery status", "returned to sender", "delivery has failed", "mail delivery failure", "delivery problem",
        "error sending message", "mail failure", "permanent error", "delivery failure", "メールエラー", "not member", "loop alert",
    ]

    /// Phrases that MTAs use in the human-readable part of a bounce (lowercase).
    static let bouncePhrases = [
        "could not be delivered", "couldn't be delivered", "delivery to the following recipient", "permanent error", "permanent fatal error",
        "user unknown", "unknown user", "this is the mail system at host", "wasn't able to deliver", "was not able to deliver",
        "message could not be", "delivery has failed", "qmail-send program", "the following address(es) failed", "unable to deliver",
        "was not delivered", "undeliverable", "mailbox unavailable", "no such user", "does not exist", "address rejected",
        "delivery failed", "failed to deliver", "returned mail", "transcript of session", "mail delivery failed", "mailbox is full",
        "mailbox full", "not be delivered", "retry timeout exceeded", "delivery to the following", "did not reach", "rejected your message",
        "recipient address rejected", "host unknown", "message not delivered", "could not deliver", "not a member", "duplicated message-id",
        "delivery attempts", "has not yet been delivered", "will be retried", "delayed", "error message", "returned to you",
        "invalid recipient", "relay access denied", "over quota", "quota exceeded", "smtp error", "remote host said",
        "送信できませんでした", "宛先", "配信",
    ]

    // MARK: Complaint handled in ComplaintParser; auto-replies below.

    static func isAutoReply(_ root: MIMEPart) -> Bool {
        let h = root.headers
        if let v = h.first(named: "Auto-Submitted")?.value.lowercased().trimmed, !v.isEmpty, !v.hasPrefix("no") { return true }
        for name in ["X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-Autorespond-Sent"] where h.first(named: name) != nil {
            return true
        }
        if let p = h.first(named: "Precedence")?.value.lowercased().trimmed, ["auto_reply", "auto-reply", "bulk", "junk"].contains(p) { return true }
        if let a = h.first(named: "X-Apple-Action")?.value.lowercased(), a.containsText("vacation") { return true }
        if h.first(named: "X-Vacation") != nil || h.first(named: "X-AutoReply-From") != nil { return true }
        let subject = SubjectNormalizer.strippedForAutoReply(root.header("Subject") ?? "")
        if autoReplySubjects.contains(where: { subject.hasPrefix($0) || subject.containsText(": " + $0) }) { return true }
        // Exchange marks its own automatic replies with both headers; a human message has neither.
        if h.first(named: "X-MS-Exchange-Inbox-Rules-Loop") != nil, let s = h.first(named: "X-Auto-Response-Suppress")?.value.lowercased(),
            s.containsText("all") || s.containsText("oof")
        {
            return autoReplyWords.contains { subject.containsText($0) }
        }
        return false
    }

    /// Lowercased subject starts of out-of-office / automatic replies in several languages.
    static let autoReplySubjects = [
        "out of office", "out of the office", "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response", "auto-response",
        "autoresponse", "autorespons", "automated reply", "automated response", "vacation", "on vacation", "away from", "abwesenheitsnotiz",
        "automatische antwort", "abwesend", "réponse automatique", "reponse automatique", "absence", "respuesta automática",
        "respuesta automatica", "fuera de la oficina", "fuori sede", "risposta automatica", "fuori ufficio", "afwezig",
        "automatisch antwoord", "autosvar", "automatisk svar", "frånvaro", "poza biurem", "odpowiedź automatyczna",
        "automaattinen vastaus", "resposta automática", "ausente", "自動応答", "自动回复", "不在",
    ]
    static let autoReplyWords = ["office", "automatic", "auto", "abwesen", "absence", "vacation"]

    // MARK: Other

    /// Machine senders that are neither bounces nor auto-replies (notifications, daemons).
    static func isMachineSender(_ root: MIMEPart) -> Bool {
        guard let from = MailAddress.parseList(root.headers.first(named: "From")?.rawValue ?? "").first else { return true }
        return isDaemon(from) || isNoReply(from)
    }

    static func isNoReply(_ a: MailAddress) -> Bool {
        let local = a.address.lowercased().split(separator: "@").first.map(String.init) ?? ""
        return ["noreply", "no-reply", "donotreply", "do-not-reply", "do_not_reply", "notifications", "notification", "bounce", "bounces"].contains(
            local)
    }
}

extension SubjectNormalizer {
    /// Lowercased subject with leading "[tags]" and whitespace removed (reply prefixes kept,
    /// because "Automatic reply: Re: ..." must still start with the marker).
    static func strippedForAutoReply(_ subject: String) -> String {
        var s = Substring(subject.lowercased())
        while true {
            s = s.drop(while: { $0.isWhitespace })
            if s.first == "[", let close = s.firstIndex(of: "]") { s = s[s.index(after: close)...] } else { break }
        }
        return String(s)
    }
}
