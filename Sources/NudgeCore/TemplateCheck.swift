import Foundation
import Mustache

/// Template variables are checked when a step is saved, so a typo is a 422 now rather than an
/// empty string in a customer's inbox later.
package enum TemplateCheck {
    package static let known: Set<String> = [
        "contact.first_name", "contact.last_name", "contact.full_name", "contact.email",
        "inbox.display_name", "inbox.address",
        "source.subject", "source.from_address", "source.message_id",
        "sequence.name", "unsubscribe_url",
    ]

    package static func isKnown(_ name: String) -> Bool {
        known.contains(name) || (name.hasPrefix("contact.fields.") && name.count > "contact.fields.".count)
    }

    package static func check(_ text: String, _ param: String) throws {
        do {
            _ = try MustacheTemplate(string: text)
        } catch {
            throw NudgeError.validation(param, "\(param) is not a valid Mustache template.")
        }
        for name in variables(in: text) where !isKnown(name) {
            throw NudgeError.validation(
                param, "\(param) uses the unknown variable {{\(name)}}; known: \(known.sorted().joined(separator: ", ")), contact.fields.<name>.")
        }
    }

    /// Names used in `{{name}}`, `{{{name}}}`, `{{&name}}`, `{{#name}}`, `{{^name}}` tags.
    package static func variables(in text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { break }
            var tag = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if tag.hasPrefix("{") {
                tag.removeFirst()
                if rest.hasPrefix("}") { rest = rest.dropFirst() }
            }
            guard let first = tag.first else { continue }
            if "!>=%/".contains(first) { continue }
            if "#^&".contains(first) { tag.removeFirst() }
            let name = tag.trimmingCharacters(in: .whitespaces)
            if !name.isEmpty && name != "." { out.append(name) }
        }
        return out
    }
}
