import Foundation

/// Splits the new text of a reply into what the person wrote and their signature: mobile
/// client lines ("Sent from my iPhone"), the "-- " delimiter, a sign-off followed by a short
/// name/title/phone block ("Best regards,\nAnna"), and legal/confidentiality footers.
public enum Signature {
    public struct Split: Sendable, Hashable {
        /// The text without its signature, trailing blank lines removed.
        public var body: String
        /// From the sign-off or marker line to the end; empty when none was found.
        public var signature: String
    }

    public static func split(_ text: String) -> Split {
        let lines = text.normalizedLineEndings.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let cut = start(lines) else { return Split(body: trimEnd(text.normalizedLineEndings), signature: "") }
        return Split(body: trimEnd(lines[..<cut].joined(separator: "\n")), signature: lines[cut...].joined(separator: "\n").trimmed)
    }

    /// The first line of the signature, if any; never the first line with text (a reply that is only "Thanks!").
    static func start(_ lines: [String]) -> Int? {
        guard let firstText = lines.firstIndex(where: { !$0.trimmed.isEmpty }) else { return nil }
        for i in lines.indices where i > firstText {
            let line = lines[i].trimmed
            if line.isEmpty { continue }
            if line == "--" || line == "—" || lines[i] == "-- " { return i }
            if isMobileLine(line) { return i }
            // A footer starts its own paragraph; "This email ..." inside prose is not one.
            if isFooterStart(line) && (lines[i - 1].trimmed.isEmpty || isRule(lines[i - 1].trimmed)) { return i }
            // A closing is near the end: checking every line of a long text would be quadratic work.
            if lines.count - i <= 60 && isSignOff(line) && isSignatureBlock(lines[(i + 1)...]) { return i }
        }
        return contactBlock(lines, after: firstText)
    }

    /// A last paragraph of name, title and phone/links without a closing ("John Smith | VP Sales\nM: +1 555 0101").
    static func contactBlock(_ lines: [String], after firstText: Int) -> Int? {
        guard let last = lines.lastIndex(where: { !$0.trimmed.isEmpty }) else { return nil }
        var start = last
        while start > 0 && !lines[start - 1].trimmed.isEmpty { start -= 1 }
        let block = lines[start...last].map { $0.trimmed }
        guard start > firstText, (2...6).contains(block.count), let first = block.first?.first, first.isUppercase else { return nil }
        guard block.allSatisfy({ $0.count <= 70 && !$0.hasSuffix("?") }), block[0].split(separator: " ").count <= 8 else { return nil }
        guard !block[0].hasSuffix("."), !block[0].hasSuffix("!") else { return nil }
        return block.contains(where: isContactLine) ? start : nil
    }

    private static let phone = try! NSRegularExpression(pattern: #"\+?\d[\d\s().\/-]{6,}\d"#)

    static func isContactLine(_ line: String) -> Bool {
        let l = line.lowercased()
        if l.contains("@") || l.contains("http") || l.contains("www.") || l.contains(" | ") { return true }
        return phone.firstMatch(in: line, range: NSRange(location: 0, length: (line as NSString).length)) != nil
    }

    static func isMobileLine(_ line: String) -> Bool {
        let l = line.lowercased().replacingOccurrences(of: "’", with: "'")
        return l.count < 90 && mobilePrefixes.contains { l.hasPrefix($0) }
    }

    /// "Best regards," / "Mit freundlichen Grüßen" / "Thanks, Anna": a closing, optionally with a short name.
    static func isSignOff(_ line: String) -> Bool {
        let l = line.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ",.!;:- "))
        // Every form below starts with a closing's first word: most lines are done here.
        guard closingStarts.contains(l.prefix { $0 != " " && $0 != "," && $0 != "/" }) else { return false }
        if closings.contains(l) { return true }
        // "Beste Grüße aus Hamburg", "Greetings from Lisbon": a closing with a place.
        let ns = l as NSString
        if let r = place.firstMatch(in: l, range: NSRange(location: 0, length: ns.length))?.range,
            closings.contains(ns.substring(to: r.location))
        {
            return true
        }
        // Bilingual closings: "Mit freundlichen Grüßen / Kind regards".
        let parts = l.split(separator: "/").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",.!;:- ")) }
        if parts.count > 1 && parts.allSatisfy({ closings.contains($0) }) { return true }
        guard let comma = l.firstIndex(of: ","), closings.contains(String(l[..<comma])) else { return false }
        let rest = l[l.index(after: comma)...].split(separator: " ")
        return !rest.isEmpty && rest.count <= 3 && rest.allSatisfy { $0.allSatisfy { $0.isLetter || $0 == "-" || $0 == "." } }
    }

    /// What follows a sign-off: a few short lines (name, title, company, phone, links), no more prose.
    static func isSignatureBlock(_ rest: ArraySlice<String>) -> Bool {
        var count = 0
        for raw in rest {
            let line = raw.trimmed
            if line.isEmpty { continue }
            if line == "--" || isRule(line) || isMobileLine(line) || isFooterStart(line) { return true }
            count += 1
            if count > 8 || line.count > 80 || line.hasSuffix("?") { return false }
            // A sentence of prose ("I also wanted to ask about pricing.") is not a signature line;
            // the first line after the closing is a name.
            let words = line.split(separator: " ").count
            let contact =
                line.contains("@") || line.contains("http") || line.contains("www.") || line.contains("|") || line.contains(where: \.isNumber)
            if count == 1 && !contact && (words > 4 || line.hasSuffix(".") || line.hasSuffix("!")) { return false }
            if words > 7 && !contact { return false }
        }
        return true
    }

    /// "-----" or "_____": a separator some clients put above footers.
    static func isRule(_ line: String) -> Bool { line.count >= 4 && line.allSatisfy { $0 == "-" || $0 == "_" || $0 == "=" || $0 == "*" } }

    static func isFooterStart(_ line: String) -> Bool {
        let l = line.lowercased()
        return footerPrefixes.contains { l.hasPrefix($0) }
    }

    private static func trimEnd(_ s: String) -> String {
        var r = s
        while let last = r.unicodeScalars.last, last.properties.isWhitespace { r.unicodeScalars.removeLast() }
        return r
    }

    private static let mobilePrefixes = [
        "sent from my ", "sent from mobile", "sent from outlook", "sent from yahoo mail", "sent from mail for windows", "sent with ", "sent via ",
        "get outlook for ios", "get outlook for android", "von meinem iphone gesendet", "von meinem ipad gesendet", "von meinem samsung",
        "von meinem smartphone gesendet", "von meinem mobiltelefon gesendet", "gesendet von meinem ", "gesendet mit ", "outlook für ios",
        "outlook für android", "envoyé de mon ", "envoyé depuis mon ", "envoye de mon ", "envoyé à partir de ", "télécharger outlook pour ",
        "obtenir outlook pour ", "enviado desde mi ", "enviado desde outlook", "obtener outlook para ", "descargar outlook para ",
        "inviato da iphone", "inviato dal mio ", "inviato da ", "scarica outlook per ", "ottieni outlook per ", "verzonden vanaf mijn ",
        "verstuurd vanaf mijn ", "verzonden met ", "outlook voor ios", "outlook voor android", "download outlook voor ", "enviado do meu ",
        "enviado a partir do meu ", "enviado do ", "obter o outlook para ", "skickat från min ", "skickat från ", "hämta outlook för ",
    ]

    private static let place = try! NSRegularExpression(
        pattern: #"\s+(?:aus|from|de|desde|da|dalla|från|uit|van|depuis)\s+\p{L}[\p{L}\s-]{0,30}$"#)

    /// The first word of each closing.
    private static let closingStarts = Set(closings.map { $0.prefix { $0 != " " } })

    static let closings: Set<String> = [
        "best regards", "kind regards", "warm regards", "warmest regards", "regards", "best", "best wishes", "all the best", "cheers", "thanks",
        "thank you", "many thanks", "thanks again", "thx", "sincerely", "yours sincerely", "yours truly", "respectfully", "talk soon", "br",
        "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "freundliche grüsse", "viele grüße", "viele grüsse",
        "beste grüße", "beste grüsse", "liebe grüße", "liebe grüsse", "herzliche grüße", "schöne grüße", "gruß", "grüße", "grüsse", "mfg",
        "lg", "vg", "danke", "vielen dank", "cordialement", "bien cordialement", "bien à vous", "salutations", "meilleures salutations",
        "sincères salutations", "bonne journée", "merci", "merci beaucoup", "amicalement", "saludos", "un saludo", "saludos cordiales",
        "atentamente", "un cordial saludo", "cordialmente", "gracias", "muchas gracias", "un abrazo", "cordiali saluti", "distinti saluti",
        "saluti", "un saluto", "grazie", "grazie mille", "buona giornata", "met vriendelijke groet", "met vriendelijke groeten",
        "vriendelijke groet", "vriendelijke groeten", "groeten", "groet", "mvg", "hartelijke groet", "bedankt", "dank je", "dank u",
        "atenciosamente", "cumprimentos", "melhores cumprimentos", "abraços", "abraço", "obrigado", "obrigada", "att", "saudações",
        "med vänliga hälsningar", "vänliga hälsningar", "med vänlig hälsning", "vänlig hälsning", "hälsningar", "mvh", "tack",
        "bästa hälsningar", "tack så mycket",
    ]

    private static let footerPrefixes = [
        "confidential", "confidentiality notice", "this email and any", "this e-mail and any", "this message and any", "this email is confidential",
        "this e-mail is confidential", "this message is confidential", "the information contained in this", "this email may contain",
        "this e-mail may contain", "this message may contain", "this communication", "disclaimer", "please consider the environment",
        "diese e-mail enthält", "diese e-mail ist vertraulich", "diese nachricht enthält", "diese nachricht ist vertraulich",
        "vertraulichkeitshinweis", "ce message et", "ce courriel", "ce message est confidentiel", "ce message contient",
        "avis de confidentialité", "este mensaje", "este correo", "aviso de confidencialidad", "questo messaggio", "le informazioni contenute",
        "questa e-mail", "questa email", "dit bericht", "deze e-mail", "deze email", "esta mensagem", "este e-mail", "este email",
        "aviso de confidencialidade", "detta meddelande", "detta e-postmeddelande", "det här e-postmeddelandet", "det här meddelandet",
    ]
}
