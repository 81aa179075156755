import Foundation

/// What the model wrote must be plain, bounded text. It only ever becomes the body (and, when the
/// step has none, the subject): it can never choose recipients or headers.
package enum OutputGuard {
    package static func check(subject: String?, body: String?) throws -> (String?, String) {
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
        var cleanSubject = subject.map(Composer.oneLine)
        if let s = cleanSubject, s.isEmpty || s.count > 200 || s.unicodeScalars.contains(where: { $0.value < 0x20 }) { cleanSubject = nil }
        return (cleanSubject, cleanBody)
    }
}
