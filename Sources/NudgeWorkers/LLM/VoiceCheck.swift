import Foundation

/// Text written in the wrong voice: the model speaking to or as the sender (the instruction's
/// author) instead of writing to the recipient, labelling its instructions, or leaving placeholders.
/// Phrases are matched on folded text (`GuardText.fold`), so case, accents and apostrophe forms
/// do not matter.
package enum VoiceCheck {
    /// Phrases that only appear when the model reports on its instructions, in the languages
    /// senders most often write in.
    static let phrases: [String] = [
        // English
        "sender's instruction", "senders instruction", "sender instruction", "instructions from the sender",
        "instruction from the sender", "as requested by the sender", "as the sender requested", "as the sender asked",
        "the sender asked me", "the sender wants me", "per the sender's", "on behalf of the sender", "here is the email",
        "here's the email", "here is a follow-up email", "here's a follow-up email", "here is your follow-up", "here's your follow-up",
        "as an ai language model", "as a language model",
        // German
        "anweisung des absenders", "anweisungen des absenders", "wie vom absender gewunscht", "wie vom absender gewuenscht",
        "im auftrag des absenders", "hier ist die e-mail",
        // French
        "instructions de l'expediteur", "instruction de l'expediteur", "comme demande par l'expediteur",
        "a la demande de l'expediteur", "voici l'e-mail", "voici l'email", "en tant qu'ia",
        // Spanish, Portuguese, Italian, Dutch
        "instrucciones del remitente", "segun lo solicitado por el remitente", "como solicito el remitente", "aqui esta el correo",
        "instrucoes do remetente", "conforme solicitado pelo remetente", "istruzioni del mittente", "come richiesto dal mittente",
        "instructies van de afzender", "zoals gevraagd door de afzender",
        // Japanese, Chinese, Russian
        "送信者の指示", "差出人の指示", "发件人的指示", "发件人指示", "寄件人的指示", "инструкции отправителя", "по просьбе отправителя",
    ]

    /// How a subject written as an instruction starts (one or two folded words).
    static let imperativeStarts: Set<String> = [
        "instruction", "instructions", "write a", "write an", "write the", "draft a", "draft an", "compose a", "compose an",
        "generate a", "follow the", "schreibe eine", "schreibe einen", "verfasse eine", "ecris un", "ecris une", "redige un", "redige une",
        "escribe un", "escribe una", "redacta un", "redacta una", "escreva um", "escreva uma", "scrivi un", "scrivi una",
    ]

    static let placeholder = try! NSRegularExpression(
        pattern: #"\[[^\]\[\n]{0,40}\p{L}[^\]\[\n]{0,40}\](?!\()|\{\{[^}\n]{1,40}\}\}|<(?:your|recipient|sender|name|company)[^>\n]{0,30}>"#,
        options: [.caseInsensitive])

    /// Why the text is in the wrong voice, or nil. `senderName` is the inbox's display name and
    /// `recipientName` the contact's name, when known.
    package static func problem(subject: String?, body: String, senderName: String?, recipientName: String?) -> String? {
        let texts = [subject ?? "", body]
        for t in texts {
            let f = GuardText.fold(t)
            if let p = phrases.first(where: { f.contains($0) }) { return "written about its instructions (\"\(p)\")" }
            if placeholder.firstMatch(in: t, range: NSRange(t.startIndex..., in: t)) != nil { return "contains a placeholder" }
        }
        if let s = subject {
            let w = GuardText.words(s)
            let first = w.first ?? ""
            if imperativeStarts.contains(first) || (w.count > 1 && imperativeStarts.contains(w[0] + " " + w[1])) {
                return "the subject is an instruction"
            }
            if GuardText.fold(s).trimmingCharacters(in: .whitespaces).hasPrefix("subject:") { return "the subject is labelled" }
        }
        if let problem = addressesTheSender(body, senderName: senderName, recipientName: recipientName) { return problem }
        return nil
    }

    static let greetings = [
        "dear", "hi", "hello", "hey", "hallo", "liebe", "lieber", "sehr geehrte", "sehr geehrter", "bonjour", "cher", "chere", "hola", "estimado",
        "estimada", "ola", "caro", "cara", "ciao", "beste",
    ]

    /// The greeting names the sender rather than the recipient, or the text is signed with the
    /// recipient's name: the model wrote as if the recipient were writing.
    static func addressesTheSender(_ body: String, senderName: String?, recipientName: String?) -> String? {
        let lines = body.split(whereSeparator: \.isNewline).map { GuardText.words(String($0)) }.filter { !$0.isEmpty }
        let sender = GuardText.words(senderName ?? "")
        let recipient = GuardText.words(recipientName ?? "")
        guard let first = lines.first else { return nil }
        let senderFirst = sender.first
        let recipientFirst = recipient.first
        if let s = senderFirst, s != recipientFirst,
            greetings.contains(first[0]) || (first.count > 1 && greetings.contains(first[0] + " " + first[1])),
            first.prefix(4).contains(s)
        {
            return "greets the sender instead of the recipient"
        }
        if let r = recipientFirst, r != senderFirst, !recipient.isEmpty {
            // A closing line that is the recipient's name (first name or full name).
            for line in lines.suffix(2) where line == recipient || line == [r] { return "signed with the recipient's name" }
        }
        return nil
    }
}
