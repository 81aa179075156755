import Foundation

/// Steps as requests give them, checked into `Step` with errors that name the field.
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
