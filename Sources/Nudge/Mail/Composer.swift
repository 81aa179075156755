import Foundation
import Mustache
import Synchronization

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
        guard let t = parsed(template) else { return template }
        return t.render(context(v))
    }

    /// Parsed templates by source text: a batch renders the same step for many contacts, and
    /// parsing was the largest single cost of composing a message. Bounded; cleared when full.
    static let cache = Mutex<[String: MustacheTemplate?]>([:])
    static func parsed(_ template: String) -> MustacheTemplate? {
        if let hit = cache.withLock({ $0[template] }) { return hit }
        let t = try? MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template)
        cache.withLock { c in
            if c.count >= 512 { c.removeAll(keepingCapacity: true) }
            c[template] = .some(t)
        }
        return t
    }

    /// Subjects are one line, whatever a template or a variable produced.
    public static func oneLine(_ s: String) -> String {
        // Fast paths: nothing to join or trim (the Foundation calls below dominate otherwise).
        // Printable ASCII with no space at either end is already one line.
        if let first = s.utf8.first, let last = s.utf8.last, first != 0x20, last != 0x20,
           s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return s
        }
        if !s.unicodeScalars.contains(where: { CharacterSet.newlines.contains($0) }),
           let first = s.unicodeScalars.first, let last = s.unicodeScalars.last,
           !CharacterSet.whitespaces.contains(first), !CharacterSet.whitespaces.contains(last) {
            return s
        }
        return s.components(separatedBy: .newlines).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }
}
