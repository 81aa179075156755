/// The languages the reply rules know. Detection counts common function words, which is
/// enough for the few sentences of a reply or an absence notice.
public enum ReplyLanguage: String, Sendable, Codable, CaseIterable {
    case en, de, fr, es, it, nl, pt, sv

    /// The language with the most function-word hits; English when nothing matches.
    public static func detect(_ text: String) -> ReplyLanguage {
        let words = Words.split(text.lowercased())
        var best = ReplyLanguage.en
        var bestScore = 0
        for lang in allCases {
            let set = markers[lang]!
            let score = words.reduce(0) { $0 + (set.contains($1) ? 1 : 0) }
            if score > bestScore {
                best = lang
                bestScore = score
            }
        }
        return best
    }

    // Words frequent in one language and rare in the others (shared ones like "de", "a", "en" left out).
    private static let markers: [ReplyLanguage: Set<String>] = [
        .en: ["the", "and", "i", "you", "will", "be", "back", "until", "office", "please", "with", "my", "am", "of", "to", "is", "on", "out"],
        .de: ["ich", "und", "der", "die", "das", "bin", "bis", "nicht", "mit", "sie", "ihre", "ihnen", "wieder", "zum", "vom", "im", "bitte", "ist"],
        .fr: [
            "je", "et", "le", "la", "les", "suis", "vous", "votre", "au", "du", "des", "serai", "jusqu'au", "merci", "retour", "pour", "pas", "mon",
        ],
        .es: [
            "el", "y", "estoy", "hasta", "los", "las", "usted", "su", "del", "por", "estaré", "gracias", "fuera", "oficina", "mi", "con", "no", "que",
        ],
        .it: [
            "il", "e", "sono", "sarò", "fino", "al", "dal", "della", "gli", "per", "grazie", "ufficio", "non", "di", "mi", "che", "con", "rientro",
        ],
        .nl: ["ik", "en", "het", "ben", "tot", "van", "mijn", "niet", "u", "uw", "met", "weer", "een", "op", "afwezig", "kantoor", "graag", "dank"],
        .pt: [
            "o", "e", "estou", "até", "os", "as", "sou", "estarei", "do", "da", "não", "obrigado", "obrigada", "escritório", "meu", "com", "que",
            "para",
        ],
        .sv: [
            "jag", "och", "är", "till", "min", "inte", "med", "på", "tillbaka", "kontoret", "tack", "den", "det", "vänliga", "hälsningar", "för",
            "om", "mig",
        ],
    ]
}

/// Word splitting shared by the reply rules: letters, digits and the apostrophes and hyphens inside words.
enum Words {
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var cur = ""
        for ch in text {
            if ch.isLetter || ch.isNumber || ((ch == "'" || ch == "’" || ch == "-") && !cur.isEmpty) {
                cur.append(ch == "’" ? "'" : ch)
            } else if !cur.isEmpty {
                out.append(cur)
                cur = ""
            }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }
}
