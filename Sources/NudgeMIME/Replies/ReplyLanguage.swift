/// The languages the reply rules know. Detection counts common function words, which is
/// enough for the few sentences of a reply or an absence notice.
public enum ReplyLanguage: String, Sendable, Codable, CaseIterable {
    case en, de, fr, es, it, nl, pt, sv

    /// The language with the most function-word and spelling hits; English when nothing matches.
    public static func detect(_ text: String) -> ReplyLanguage { detect(lowercased: text.lowercased()) }

    static func detect(lowercased lower: String) -> ReplyLanguage {
        var score: [ReplyLanguage: Int] = [:]
        for w in Words.split(lower) {
            for lang in languages[w] ?? [] { score[lang, default: 0] += 2 }
        }
        // Letters and endings that only some of the languages use break ties on short replies.
        // Bytes, not Foundation's `contains` (canonical-equivalence search, far slower): both sides are lowercased.
        for i in ByteSearch.occurring(spellingBytes, in: lower) {
            for lang in spellings[i].1 { score[lang, default: 0] += 1 }
        }
        return allCases.max { (score[$0] ?? 0) < (score[$1] ?? 0) || ((score[$0] ?? 0) == (score[$1] ?? 0) && $0 != .en && $1 == .en) }
            .flatMap { (score[$0] ?? 0) > 0 ? $0 : nil } ?? .en
    }

    /// `markers` by word: one look-up per word of the reply.
    private static let languages: [String: [ReplyLanguage]] = markers.reduce(into: [:]) { out, entry in
        for w in entry.value { out[w, default: []].append(entry.key) }
    }

    // Words frequent in one language and rare in the others (shared ones like "de", "a", "en" left out).
    private static let markers: [ReplyLanguage: Set<String>] = [
        .en: [
            "the", "and", "i", "you", "will", "be", "back", "until", "office", "please", "with", "my", "am", "of", "to", "is", "on", "out",
            "we", "thanks", "use", "for", "this", "can", "your", "our", "it", "that", "have", "send", "us", "i'm", "we're", "don't",
        ],
        .de: [
            "ich", "und", "der", "die", "das", "bin", "bis", "nicht", "mit", "sie", "ihre", "ihnen", "wieder", "zum", "vom", "im", "bitte",
            "ist", "wir", "haben", "kein", "keine", "können", "nächste", "woche", "einen", "vielen", "dank", "danke", "gerne", "klingt",
            "aber", "für", "auf", "auch", "noch", "mich", "uns", "guten", "tag", "hallo",
        ],
        .fr: [
            "je", "et", "les", "suis", "vous", "votre", "au", "du", "des", "serai", "jusqu'au", "merci", "retour", "pour", "pas",
            "mon", "bonjour", "cela", "pouvez-vous", "veuillez", "dire", "plus", "c'est", "nous", "est", "une", "ce", "ne", "qui", "sur",
        ],
        .es: [
            "el", "y", "estoy", "hasta", "los", "las", "usted", "su", "del", "por", "estaré", "gracias", "fuera", "oficina", "mi", "con",
            "no", "que", "puedo", "si", "más", "gustaría", "recibir", "información", "suena", "bien", "pueden", "lista", "correo", "hola",
            "quiero", "cómo", "nos", "esta", "este", "me", "envíen", "creo", "soy", "esto", "cuánto", "cuesta", "dos", "semanas", "volveré", "usted",
        ],
        .it: [
            "il", "e", "sono", "sarò", "fino", "al", "dal", "della", "gli", "per", "grazie", "ufficio", "non", "di", "mi", "che", "con",
            "rientro", "possiamo", "prossima", "settimana", "maggiori", "informazioni", "buongiorno", "vi", "ci", "siamo", "ma", "questo",
            "assenza", "ferie", "sarò", "tra",
        ],
        .nl: [
            "ik", "en", "het", "ben", "tot", "van", "mijn", "niet", "u", "uw", "met", "weer", "een", "op", "afwezig", "kantoor", "graag",
            "dank", "hebben", "geen", "bedankt", "maar", "stuur", "gerust", "meer", "klinkt", "wilt", "zijn", "wij", "je", "dat", "voor",
            "naar", "ook", "nog", "mij",
        ],
        .pt: [
            "o", "e", "estou", "até", "os", "as", "sou", "estarei", "do", "da", "não", "obrigado", "obrigada", "escritório", "meu", "com",
            "que", "para", "marcar", "uma", "na", "no", "pode", "enviar", "mais", "informações", "parem", "olá", "você", "em", "férias",
            "temos", "ao", "isso", "volto", "retorno", "tenho", "favor", "proposta", "você", "vocês", "muito", "obrigado",
        ],
        .sv: [
            "jag", "och", "är", "till", "min", "inte", "med", "på", "tillbaka", "kontoret", "tack", "den", "det", "vänliga", "hälsningar",
            "för", "om", "mig", "intressant", "kan", "vi", "boka", "ett", "möte", "nästa", "vecka", "låter", "skicka", "gärna", "mer", "hej",
            "nej", "ni", "er", "av", "har", "som", "att",
        ],
    ]

    private static let spellingBytes = spellings.map { Array($0.0.utf8) }

    private static let spellings: [(String, [ReplyLanguage])] = [
        ("ß", [.de]), ("ü", [.de]), ("ä", [.de, .sv]), ("ö", [.de, .sv]), ("å", [.sv]), ("ñ", [.es]), ("¿", [.es]), ("¡", [.es]),
        ("ción", [.es]), ("ã", [.pt]), ("õ", [.pt]), ("ção", [.pt]), ("ções", [.pt]), ("ç", [.pt, .fr]), ("zione", [.it]), ("zioni", [.it]),
        ("è", [.it, .fr]), ("ì", [.it]), ("ò", [.it]), ("ù", [.it]), ("é", [.fr]), ("ê", [.fr, .pt]), ("à", [.fr]), ("ij", [.nl]), ("nh", [.pt]),
        ("lh", [.pt]), ("ão", [.pt]),
        ("oe", [.nl]), ("aa", [.nl]), ("sch", [.de, .nl]),
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
