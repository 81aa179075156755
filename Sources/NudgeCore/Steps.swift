import Foundation
import Mustache

/// One step of a sequence or an ad-hoc enrollment, as stored (JSON) and as given in requests.
public struct Step: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case email, reminder }
    public var type: Kind
    public var delay_days: Double
    public var delay_hours: Double?
    public var delay_minutes: Double?
    public var subject: String?
    public var body: String?
    public var prompt: String?
    public var note: String?

    public var delaySeconds: TimeInterval {
        delay_days * 86_400 + (delay_hours ?? 0) * 3_600 + (delay_minutes ?? 0) * 60
    }
}

/// What a request may send as a step; validated into `Step` with field-naming errors.
package struct StepInput: Decodable {
    package let type: String?
    package let delay_days: Double?
    package let delay_hours: Double?
    package let delay_minutes: Double?
    package let subject: String?
    package let body: String?
    package let prompt: String?
    package let note: String?
}

/// A sequence version's steps and settings (an enrollment may override the settings).
public struct SequenceDefinition: Codable, Sendable, Equatable {
    public var steps: [Step]
    public var exit_on_reply: Bool
    public var exit_condition_prompt: String?

    package init(steps: [Step], exit_on_reply: Bool, exit_condition_prompt: String?) {
        self.steps = steps
        self.exit_on_reply = exit_on_reply
        self.exit_condition_prompt = exit_condition_prompt
    }
}

package enum StepValidation {
    package static let maxSteps = 50

    package static func validate(_ inputs: [StepInput]?, param: String, llmConfigured: Bool) throws -> [Step] {
        guard let inputs, !inputs.isEmpty else { throw NudgeError.validation(param, "\(param) must list at least one step.") }
        guard inputs.count <= maxSteps else { throw NudgeError.validation(param, "\(param) may have at most \(maxSteps) steps.") }
        return try inputs.enumerated().map { i, s in try validate(s, param: "\(param)[\(i)]", llmConfigured: llmConfigured) }
    }

    package static func delay(_ v: Double?, _ param: String, max: Double) throws -> Double? {
        guard let v else { return nil }
        guard v.isFinite, v >= 0 else { throw NudgeError.validation(param, "\(param) must be a non-negative number.") }
        guard v <= max else { throw NudgeError.validation(param, "\(param) must be at most \(Int(max)).") }
        return v
    }

    package static func validate(_ s: StepInput, param p: String, llmConfigured: Bool) throws -> Step {
        let kind: Step.Kind
        switch s.type ?? "email" {
        case "email": kind = .email
        case "reminder": kind = .reminder
        default: throw NudgeError.validation("\(p).type", "\(p).type must be \"email\" or \"reminder\".")
        }
        var step = Step(
            type: kind, delay_days: try delay(s.delay_days, "\(p).delay_days", max: 365) ?? 0,
            delay_hours: try delay(s.delay_hours, "\(p).delay_hours", max: 8_760),
            delay_minutes: try delay(s.delay_minutes, "\(p).delay_minutes", max: 525_600))
        if step.delaySeconds > 366 * 86_400 { throw NudgeError.validation("\(p).delay_days", "\(p): the total delay must be at most a year.") }
        switch kind {
        case .reminder:
            if let raw = s.note { try Validate.text(raw, "\(p).note", max: 2_000) }
            guard let note = s.note?.trimmingCharacters(in: .whitespacesAndNewlines), !note.isEmpty else {
                throw NudgeError.validation("\(p).note", "\(p).note is required for a reminder step.")
            }
            for f in ["subject": s.subject, "body": s.body, "prompt": s.prompt] where f.value != nil {
                throw NudgeError.validation("\(p).\(f.key)", "A reminder step takes a note, not \(f.key).")
            }
            step.note = note
        case .email:
            if s.note != nil { throw NudgeError.validation("\(p).note", "note belongs to reminder steps; set \"type\": \"reminder\".") }
            switch (s.body, s.prompt) {
            case (nil, nil): throw NudgeError.validation("\(p).body", "\(p) needs exactly one of body or prompt.")
            case (.some, .some): throw NudgeError.validation("\(p).prompt", "\(p) takes body or prompt, not both.")
            case (let body?, nil):
                guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw NudgeError.validation("\(p).body", "\(p).body must not be empty.")
                }
                try Validate.text(body, "\(p).body", max: 20_000)
                try TemplateCheck.check(body, "\(p).body")
                guard s.subject != nil else { throw NudgeError.validation("\(p).subject", "\(p).subject is required for a body step.") }
                step.body = body
            case (nil, let prompt?):
                guard llmConfigured else { throw LLMRequirement.error("\(p).prompt") }
                guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw NudgeError.validation("\(p).prompt", "\(p).prompt must not be empty.")
                }
                try Validate.text(prompt, "\(p).prompt", max: 4_000)
                step.prompt = prompt
            }
            if let subject = s.subject {
                guard !subject.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw NudgeError.validation("\(p).subject", "\(p).subject must not be empty.")
                }
                try Validate.text(subject, "\(p).subject", max: 250, singleLine: true)
                try TemplateCheck.check(subject, "\(p).subject")
                step.subject = subject
            }
        }
        return step
    }

    package static func exitCondition(_ v: String?, llmConfigured: Bool) throws -> String? {
        if let v { try Validate.text(v, "exit_condition_prompt", max: 2_000) }
        guard let v = v?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        guard llmConfigured else { throw LLMRequirement.error("exit_condition_prompt") }
        return v
    }
}

package enum LLMRequirement {
    package static func error(_ param: String) -> NudgeError {
        .validation(
            param,
            "\(param) needs an LLM: set NUDGE_LLM_URL (an OpenAI-compatible endpoint), NUDGE_LLM_MODEL and, if it needs one, NUDGE_LLM_API_KEY, then restart Nudge."
        )
    }
}

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
