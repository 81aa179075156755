import Foundation
import Mustache
import NudgeCore
import NudgeStore
import Synchronization

/// Renders a template step's subject and body with the contact, inbox and source variables.
/// Plain text: Mustache's HTML escaping is switched off.
public enum Composer {
    public struct Variables: Sendable {
        package var contactFullName: String?
        package var contactEmail: String
        package var contactFields: [String: String]
        package var inboxDisplayName: String?
        package var inboxAddress: String
        package var source: EnrollmentSource?
        package var sequenceName: String?
        package var unsubscribeURL: String?
    }

    package static func context(_ v: Variables) -> [String: Any] {
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
    package static let cache = Mutex<[String: MustacheTemplate?]>([:])
    package static func parsed(_ template: String) -> MustacheTemplate? {
        if let hit = cache.withLock({ $0[template] }) { return hit }
        let t = try? MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template)
        cache.withLock { c in
            if c.count >= 512 { c.removeAll(keepingCapacity: true) }
            c[template] = .some(t)
        }
        return t
    }

    /// Longest subject sent, in Unicode code points: a step's own subject may be 250, so only
    /// variables (a received subject, a name) can make one longer, and those are cut.
    package static let maxSubjectLength = 250
    package static let maxDisplayNameLength = 200

    /// Text for a header that may carry what other people wrote (a received subject, a model's
    /// subject, a name): one line, without control or bidirectional formatting characters (each
    /// becomes a space), and at most `max` code points. Rendering never refuses the result.
    public static func headerText(_ s: String, max: Int) -> String {
        var text = oneLine(s)
        if text.unicodeScalars.contains(where: { Validate.isControl($0, allowLineBreaks: false) }) {
            let scalars = text.unicodeScalars.map { Validate.isControl($0, allowLineBreaks: false) ? " " : $0 }
            var clean = String.UnicodeScalarView()
            clean.append(contentsOf: scalars)
            text = String(clean).trimmingCharacters(in: .whitespaces)
        }
        guard text.unicodeScalars.count > max else { return text }
        // Whole characters only, so a cut never leaves half an emoji or a lone accent.
        var out = ""
        var used = 0
        for ch in text {
            let n = ch.unicodeScalars.count
            if used + n > max { break }
            out.append(ch)
            used += n
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// Subjects are one line, whatever a template or a variable produced.
    public static func oneLine(_ s: String) -> String {
        // Fast paths: nothing to join or trim (the Foundation calls below dominate otherwise).
        // Printable ASCII with no space at either end is already one line.
        if let first = s.utf8.first, let last = s.utf8.last, first != 0x20, last != 0x20,
            s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        {
            return s
        }
        if !s.unicodeScalars.contains(where: { CharacterSet.newlines.contains($0) }),
            let first = s.unicodeScalars.first, let last = s.unicodeScalars.last,
            !CharacterSet.whitespaces.contains(first), !CharacterSet.whitespaces.contains(last)
        {
            return s
        }
        return s.components(separatedBy: .newlines).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }
}
