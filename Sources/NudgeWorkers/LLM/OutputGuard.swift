import Foundation

/// What the model wrote must be plain, bounded text in the sender's voice that points only where
/// the sender's own material points. It only ever becomes the body (and, when the step has none,
/// the subject): it can never choose recipients or headers.
package enum OutputGuard {
    /// What the output is checked against.
    package struct Context: Sendable {
        /// The step's instruction (and any other instruction text the model was given).
        package var instructions: [String] = []
        /// The rendered system prompt.
        package var system: String = ""
        package var allowed = ContactPointCheck.Allowed()
        package var senderName: String?
        package var recipientName: String?
        /// Whether the model's subject is used (the step has none of its own).
        package var subjectUsed = true
        /// Whether an empty model subject has something to fall back on ("Re: " the source's).
        package var subjectFallback = false

        package init() {}
    }

    package static let maxSubject = 200

    /// The cleaned subject and body; `LLMError.refused` names the first rule the output breaks,
    /// `LLMError.invalidOutput` an output that is not usable text at all.
    package static func check(subject: String?, body: String?, context: Context) throws -> (String?, String) {
        let (cleanSubject, cleanBody) = try structure(subject: subject, body: body)
        if let why = refusal(subject: cleanSubject, body: cleanBody, context: context) { throw LLMError.refused(why) }
        return (cleanSubject.isEmpty ? nil : cleanSubject, cleanBody)
    }

    /// The first rule the text breaks, or nil.
    package static func refusal(subject: String, body: String, context: Context) -> String? {
        if context.subjectUsed {
            if subject.isEmpty && !context.subjectFallback { return "the subject is empty" }
            if subject.count > maxSubject { return "the subject is longer than \(maxSubject) characters" }
        }
        for (part, text) in [("subject", subject), ("body", body)] {
            if let why = EchoCheck.echo(text, instructions: context.instructions, system: context.system) { return "the \(part) \(why)" }
        }
        for (part, text) in [("subject", subject), ("body", body)] {
            if let why = ContactPointCheck.problem(text, allowed: context.allowed) { return "the \(part) \(why)" }
        }
        if let why = VoiceCheck.problem(
            subject: subject.isEmpty ? nil : subject, body: body, senderName: context.senderName, recipientName: context.recipientName)
        {
            return why
        }
        return nil
    }

    /// Bounded plain text: a body that is not empty, not HTML, without control characters.
    static func structure(subject: String?, body: String?) throws -> (String, String) {
        guard let body = body?.trimmingCharacters(in: .whitespacesAndNewlines), !body.isEmpty else { throw LLMError.invalidOutput("empty body") }
        guard body.count <= 5_000 else { throw LLMError.invalidOutput("body too long") }
        let lower = body.lowercased()
        if lower.contains("<html") || lower.contains("<body") || lower.contains("</p>") || lower.contains("<br") {
            throw LLMError.invalidOutput("body is HTML")
        }
        if body.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
            throw LLMError.invalidOutput("control characters")
        }
        let cleanBody = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        return (Composer.oneLine(subject ?? ""), cleanBody)
    }
}
