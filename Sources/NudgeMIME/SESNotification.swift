import Foundation

/// Amazon SES bounce/complaint notifications that arrive as JSON mail (directly or wrapped in
/// an SNS envelope whose "Message" field is itself a JSON string).
struct SESNotification {
    var type: String  // "bounce", "complaint", "delivery", ...
    var recipients: [BounceRecipient]
    var complained: [String]
    var feedbackType: String?
    var messageID: String?

    static func parse(_ text: String) -> SESNotification? {
        guard text.containsText("notificationType") || text.containsText("eventType"),
            let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}"), start < end
        else { return nil }
        // Mail transport may hard-wrap long JSON lines; newlines are insignificant between tokens.
        let json = String(text[start...end]).replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
        guard var obj = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return nil }
        if let inner = obj["Message"] as? String, let data = inner.data(using: .utf8),
            let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        {
            obj = o
        }
        guard let type = (obj["notificationType"] ?? obj["eventType"]) as? String else { return nil }
        var n = SESNotification(type: type.lowercased(), recipients: [], complained: [], feedbackType: nil, messageID: nil)
        if let mail = obj["mail"] as? [String: Any] {
            let common = mail["commonHeaders"] as? [String: Any]
            n.messageID = (common?["messageId"] as? String).flatMap(MessageID.parse) ?? (mail["messageId"] as? String)
        }
        if let b = obj["bounce"] as? [String: Any] {
            let permanent = (b["bounceType"] as? String)?.lowercased() == "permanent"
            for r in b["bouncedRecipients"] as? [[String: Any]] ?? [] {
                guard let addr = r["emailAddress"] as? String else { continue }
                let status = r["status"] as? String
                n.recipients.append(
                    BounceRecipient(
                        address: addr, status: status, action: r["action"] as? String,
                        diagnostic: r["diagnosticCode"] as? String,
                        permanent: status.map { $0.hasPrefix("5") } ?? permanent))
            }
        }
        if let d = obj["delivery"] as? [String: Any] {
            for addr in d["recipients"] as? [String] ?? [] {
                n.recipients.append(
                    BounceRecipient(address: addr, status: "2.0.0", action: "delivered", diagnostic: d["smtpResponse"] as? String, permanent: false))
            }
        }
        if let c = obj["complaint"] as? [String: Any] {
            n.complained = (c["complainedRecipients"] as? [[String: Any]] ?? []).compactMap { $0["emailAddress"] as? String }
            n.feedbackType = c["complaintFeedbackType"] as? String
        }
        return n
    }
}
