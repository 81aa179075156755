import Foundation
import Mustache

/// Renders a template step's subject and body with the contact, inbox and source variables.
/// Plain text: Mustache's HTML escaping is switched off.
public enum Composer {
    public struct Variables: Sendable {
        var contactFullName: String?
        var contactEmail: String
        var contactFields: [String: String]
        var inboxDisplayName: String?
        var inboxAddress: String
        var source: EnrollmentSource?
        var sequenceName: String?
        var unsubscribeURL: String?
    }

    static func context(_ v: Variables) -> [String: Any] {
        let (first, last) = NameSplit.split(v.contactFullName)
        return [
            "contact": [
                "first_name": first ?? "", "last_name": last ?? "", "full_name": v.contactFullName ?? "",
                "email": v.contactEmail, "fields": v.contactFields,
            ] as [String: Any],
            "inbox": ["display_name": v.inboxDisplayName ?? "", "address": v.inboxAddress],
            "source": ["subject": v.source?.subject ?? "", "from_address": v.source?.from_address ?? "", "message_id": v.source?.message_id ?? ""],
            "sequence": ["name": v.sequenceName ?? ""],
            "unsubscribe_url": v.unsubscribeURL ?? "",
        ]
    }

    public static func render(_ template: String, _ v: Variables) -> String {
        guard let t = try? MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template) else { return template }
        return t.render(context(v))
    }

    /// Subjects are one line, whatever a template or a variable produced.
    public static func oneLine(_ s: String) -> String {
        s.components(separatedBy: .newlines).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }
}
