import Foundation

/// People a reply points to: "I've left the company, please write to maria@acme.com",
/// "Maria Lopez (maria@acme.com) handles this now", "please contact my colleague Maria Lopez".
public enum Referral {
    public struct Contact: Sendable, Hashable {
        public var name: String?
        public var email: String?
    }

    /// The people a reply that a model labelled `referral` points to: the addresses it names
    /// (not the sender's) with the names next to them, else a colleague named in it. The model's
    /// label stands in for the hand-over phrase the rules need.
    /// - Parameter replyText: the reply without quoted history and signature (`messages.reply_text`).
    public static func referred(in replyText: String, sender: String?) -> [Contact] {
        let text = String(replyText.prefix(ReplyIntent.Prepared.cap))
        return contacts(in: text, lower: text.ruleText, sender: sender, needsCue: false)
    }

    /// Contacts named in the text next to a hand-over phrase; empty without one.
    /// - Parameter lower: `text.ruleText`.
    static func contacts(in text: String, lower: String, sender: String?, needsCue: Bool = true) -> [Contact] {
        guard !needsCue || cue.matches(lower) else { return [] }
        let ns = text as NSString
        var out: [Contact] = []
        for (address, offset) in TextScan.addresses(in: text) {
            let a = address.lowercased()
            guard a != sender?.lowercased(), !out.contains(where: { $0.email == a }) else { continue }
            let before = ns.substring(to: offset)
            let after = ns.substring(from: offset + (address as NSString).length)
            out.append(Contact(name: name(before: before) ?? name(after: after) ?? titled(in: before) ?? spelled(a, in: text), email: a))
        }
        if out.isEmpty, let m = namedColleague.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) {
            out.append(Contact(name: ns.substring(with: m.range(at: 1)), email: nil))
        }
        return out
    }

    /// "Maria Lopez (", "Maria Lopez <", "Maria Lopez at ", "Maria Lopez: ", "Maria Lopez, ".
    private static let nameBefore = try! NSRegularExpression(
        pattern:
            #"(\p{Lu}[\p{L}'-]+(?:\s+(?:de|da|van|von|del|di|la|le)?\s*\p{Lu}[\p{L}'-]+){0,2})\s*(?:\(|<|\[|:|,|-|–|\s+(?:at|unter|à|a|en|su|op|em|på|via)\s*|\s+)\s*(?:mailto:)?$"#
    )
    /// "maria@acme.com (Maria Lopez)".
    private static let nameAfter = try! NSRegularExpression(pattern: #"^\s*[>)\]]?\s*\((\p{Lu}[\p{L}'-]+(?:\s+\p{Lu}[\p{L}'-]+){0,2})\)"#)

    private static func name(before: String) -> String? {
        let tail = String(before.suffix(80))
        let ns = tail as NSString
        guard let m = nameBefore.firstMatch(in: tail, range: NSRange(location: 0, length: ns.length)) else { return nil }
        var name = ns.substring(with: m.range(at: 1))
        // "Herrn Markus Vogel": the courtesy title is not part of the name.
        if let space = name.firstIndex(of: " "), titles.contains(name[..<space].lowercased()) { name = String(name[name.index(after: space)...]) }
        // A capitalised sentence start ("Please", "Contact") is not a name.
        return notNames.contains(name.split(separator: " ").first.map { $0.lowercased() } ?? "") ? nil : name
    }

    /// "karin.berg@..." and "Karin Berg" elsewhere in the text: the name as written there.
    private static func spelled(_ address: String, in text: String) -> String? {
        let local = address.split(separator: "@").first ?? ""
        let parts = local.split(whereSeparator: { $0 == "." || $0 == "_" || $0 == "-" })
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0.count >= 2 && $0.allSatisfy(\.isLetter) }) else { return nil }
        let pattern = "(?<!\\p{L})" + parts.map { NSRegularExpression.escapedPattern(for: String($0)) }.joined(separator: "\\s+") + "(?!\\p{L})"
        guard let re = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else { return nil }
        let ns = text as NSString
        return re.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range) }
    }

    /// "Frau Anna Weber ist zuständig: anna@...": a name after a courtesy title in the same sentence.
    private static func titled(in before: String) -> String? {
        let sentence = String(before.suffix(120))
        let ns = sentence as NSString
        return titledName.matches(in: sentence, range: NSRange(location: 0, length: ns.length)).last.map { ns.substring(with: $0.range(at: 1)) }
    }
    private static let titledName = try! NSRegularExpression(
        pattern:
            #"(?<!\p{L})(?:Frau|Herrn?|Mr\.?|Mrs\.?|Ms\.?|Madame|Monsieur|Mme|Señora?|Sra?\.|Dott\.(?:ssa)?|Sig\.(?:ra)?|Signora|Dhr\.|Mevr\.|Mevrouw|Meneer|Senhora?)\s+(\p{Lu}[\p{L}'-]+(?:\s+\p{Lu}[\p{L}'-]+){0,2})"#
    )

    private static func name(after: String) -> String? {
        let ns = after as NSString
        return nameAfter.firstMatch(in: after, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    private static let titles: Set<String> = [
        "frau", "herr", "herrn", "mr", "mrs", "ms", "dr", "madame", "monsieur", "mme", "señor", "señora", "sr", "sra", "signor", "signora",
        "dott", "meneer", "mevrouw", "senhor", "senhora",
    ]

    private static let notNames: Set<String> = [
        "please", "contact", "email", "e-mail", "write", "reach", "bitte", "kontaktieren", "schreiben", "merci", "contactez", "écrivez",
        "por", "contacte", "escriba", "escribe", "contatti", "scriva", "contattare", "neem", "mail", "entre", "escreva", "kontakta",
        "skriv", "hi", "hello", "thanks", "the", "i", "he", "she", "they", "my", "our", "unsere", "notre", "nuestro", "la", "le", "el",
    ]

    private static let namedColleague = try! NSRegularExpression(
        pattern:
            #"(?:colleague|kollegin|kollege|collègue|compañera|compañero|collega|colega|kollega|contact|kontaktieren\s+sie|contactez|contacte|contatti|contate|kontakta|reach\s+out\s+to|write\s+to|wenden\s+sie\s+sich\s+an)\s+(\p{Lu}\p{Ll}+\s+\p{Lu}\p{Ll}+)"#
    )

    /// Hand-over phrases, found in lowercased text.
    static let cue = PhraseSet(
        [
            "contact", "reach out", "write to", "email", "e-mail", "handles", "handling", "responsible", "in charge", "left the company",
            "no longer", "colleague", "forward", "cc'd", "copied", "loop in", "looped in", "person to talk", "right person", "took over",
            "wenden sie sich", "kontaktieren", "schreiben sie", "zuständig", "ansprechpart", "kolleg", "nicht mehr", "verlassen",
            "übernommen", "contacter", "contactez", "écrire à", "écrivez à", "s'occupe", "responsable", "en charge", "collègue",
            "a quitté", "ne fait plus partie", "contacte", "contactar", "escriba a", "escribe a", "se encarga", "compañer", "ya no",
            "dejó", "contattare", "contatti", "scrivere a", "scriva a", "scrivete a", "si occupa", "responsabile", "collega", "non lavora più",
            "non lavoro più",
            "ha lasciato", "neem contact", "contact opnemen", "mail naar", "verantwoordelijk", "werkt hier niet meer", "niet meer werkzaam",
            "entre em contato", "contate", "escreva para", "responsável", "colega", "não trabalha mais", "deixou a empresa", "cuida",
            "kontakta", "skriv till", "ansvarig", "ansvarar", "kollega", "slutat", "jobbar inte längre", "arbetar inte längre",
        ].map { NSRegularExpression.escapedPattern(for: $0) }, after: "")
}
