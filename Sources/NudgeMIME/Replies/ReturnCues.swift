import Foundation

/// What the words around a date say about it: the last day away ("until", the end of a range),
/// the day back ("back on", "wieder erreichbar ab"), or the start of the absence ("from").
enum ReturnCues {
    struct Candidate {
        /// 8: a return cue before the date, 7: after it; 6: "until" or a range end; 5: "will reply";
        /// 4: a duration; 2: a date in an absence sentence.
        var score: Int
        /// A written-out date outranks a weekday or "tomorrow": in "away through Friday, December 11.
        /// I'll be back Monday." the Monday is the one after the 11th, not the next one.
        var full: Bool
        var day: CalendarDay
    }

    static func candidates(in sentence: String, _ ctx: DateContext) -> [Candidate] {
        let s = sentence.ruleText
        let ns = s as NSString
        let mentions = DateMentions.scan(s, ctx)
        let absent = matches(absence, s)
        var out: [Candidate] = []
        for (i, m) in mentions.enumerated() {
            let prevEnd = i > 0 ? NSMaxRange(mentions[i - 1].range) : 0
            let nextStart = i + 1 < mentions.count ? mentions[i + 1].range.location : ns.length
            let before = ns.substring(with: NSRange(location: prevEnd, length: m.range.location - prevEnd))
            let after = ns.substring(with: NSRange(location: NSMaxRange(m.range), length: nextStart - NSMaxRange(m.range)))
            let backBefore = matches(returnWords, before)
            let back = backBefore || matches(returnWords, after)
            // The start of a range says nothing about the return.
            if i + 1 < mentions.count, matches(rangeGap, after) { continue }
            let isRangeEnd = m.kind == .periodEnd || (i > 0 && matches(rangeGap, before)) || matches(dayRangeStart, before)
            let inclusive = matches(inclusiveAfter, after)
            let full = m.kind == .full || m.kind == .periodEnd
            // "open Monday to Friday" in a footer is a schedule, not an absence.
            if (m.kind == .weak || m.kind == .week) && !absent && !back { continue }
            if isRangeEnd && m.kind != .duration {
                out.append(Candidate(score: 6, full: full, day: m.day.adding(days: 1).workingDayOnOrAfter))
            } else if let until = lastMatch(untilBefore, before) {
                let last = inclusive || matches(inclusiveUntil, until)
                out.append(Candidate(score: 6, full: full, day: m.day.adding(days: last ? 1 : 0).workingDayOnOrAfter))
            } else if back {
                out.append(Candidate(score: backBefore ? 8 : 7, full: full, day: m.day.workingDayOnOrAfter))
            } else if matches(replyWords, before) {
                // "I will reply next week": an answer promised for a day. Only before the date ("your
                // message of 2 December ... I will reply" names a past day), and weaker than "until",
                // so that a subject's "Automatic reply: Call on 9 December" stays below the subject's bar.
                out.append(Candidate(score: 5, full: full, day: m.day.workingDayOnOrAfter))
            } else if m.kind == .duration {
                out.append(Candidate(score: 4, full: full, day: m.day.workingDayOnOrAfter))
            } else if absent && !matches(fromBefore, before) {
                // "Out of office on Friday 11 December", "I'm out of the office Friday": away that day;
                // "away next week": away that week.
                out.append(Candidate(score: 2, full: full, day: m.day.adding(days: m.kind == .week ? 7 : 1).workingDayOnOrAfter))
            }
        }
        return out
    }

    private static func re(_ p: String) -> NSRegularExpression { try! NSRegularExpression(pattern: p, options: [.caseInsensitive]) }
    private static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(location: 0, length: (s as NSString).length)) != nil
    }
    private static func lastMatch(_ re: NSRegularExpression, _ s: String) -> String? {
        let ns = s as NSString
        return re.matches(in: s, range: NSRange(location: 0, length: ns.length)).last.map { ns.substring(with: $0.range) }
    }

    private static let article =
        #"(?:\s+(?:the|den|dem|der|le|la|el|il|o|a|dia|de|next|nächsten|kommenden|diesen|próximo|próxima|prossimo|volgende|nästa|på))*"#

    /// Between two dates of one period: "7 to 11 December", "7.–11.12.", "du 7 au 11".
    private static let connector =
        #"(?:-|–|—|to|till|until|through|thru|and|all'|bis(?:\s+(?:zum|einschließlich|einschliesslich))?|und|au|à|jusqu'au|jusqu'à|et|al|a|hasta(?:\s+el)?|y|fino\s+al|e|tot(?:\s+en\s+met)?|t/m|en|até(?:\s+(?:o|ao|dia|o\s+dia))?|till\s+och\s+med|t\.o\.m\.?|och)"#
    private static let rangeGap = re("^\\.?\\s*,?\\s*\(connector)\(article)\\s*$")
    /// "from 7 to 11 December": the first day is a bare number, not a date of its own.
    private static let dayRangeStart = re("(?<![\\d.:/])\\d{1,2}(?:st|nd|rd|th|er|e|\\.)?\\s*\(connector)\(article)\\s*$")

    private static let untilBefore = re(
        #"(?<!\p{L})(?:until|till|til|through|thru|(?:up\s+)?to\s+and\s+including|bis(?:\s+(?:zum|zur|am|einschließlich|einschliesslich|einschl\.?|inklusive|inkl\.?))*|jusqu'(?:au|à|a|aux)|jusqu'à\s+ce|hasta|fino\s+(?:al|all'|a|ad)|sino\s+al|tot(?:\s+en\s+met)?|t/m|till\s+och\s+med|t\.o\.m\.?|tom|até(?:\s+ao)?)"#
            + article + #"\s*$"#)
    private static let inclusiveUntil = re(#"through|thru|including|einschl|inkl|tot\s+en\s+met|t/m|och\s+med|t\.o\.m|^tom"#)
    private static let inclusiveAfter = re(
        #"^\s*[,(]?\s*(?:inclusive|inclusively|included|incl\.?|einschließlich|einschliesslich|inklusive|inkl\.?|inclus|incluse|inclusivement|y\s+compris|compris|incluido|incluida|incluso|inclusa|compreso|compresa|inclusief|inbegrepen|inkluderat|inklusive|incluído|incluída)(?!\p{L})"#
    )
    private static let fromBefore = re(
        #"(?<!\p{L})(?:from|starting|vom|von|ab|du|à\s+partir\s+du|à\s+compter\s+du|dès\s+le|desde|del|a\s+partir\s+del?|dal|a\s+partire\s+dal|van|vanaf|från(?:\s+och\s+med)?|fr\.o\.m\.?|a\s+partir\s+do)"#
            + article + #"\s*$"#)

    private static let returnWords = re(
        #"(?<!\p{L})(?<!(?:not|nicht|non|niet|no|não|inte|pas)\s{1,3})(?<!(?:not|nicht|non|niet|no|não|inte|pas)\s{1,3}(?:be|sein|être|estar|essere|zijn|ser|vara)\s{1,3})(?:back|return|returning|returns|again|reachable|available|in\s+the\s+office\s+(?:on|from)|zurück|wieder|erreichbar|retour|rentre|rentrerai|reviens|reviendrai|joignable|disponible|vuelta|regreso|regresaré|regresare|regreso|vuelvo|volveré|volvere|reincorporo|reincorporaré|localizable|nuevo|ritorno|rientro|rientrerò|rientrero|tornerò|tornero|torno|nuovamente|riprendo|riprenderò|reprends|reprendrai|reprise|retomo|retomarei|hervat|disponibile|reperibile|terug|weer|bereikbaar|beschikbaar|volta|volto|voltarei|regresso|regressarei|retorno|retornarei|novamente|disponível|tillbaka|åter|återkommer|återvänder|nåbar|anträffbar)(?!\p{L})"#
    )
    private static let replyWords = re(
        #"(?<!\p{L})(?:reply|respond|answer|get\s+back\s+to\s+you|antworten|beantworten|melde\s+mich|répondrai|répondre|responderé|responder|risponderò|rispondere|beantwoorden|antwoorden|responderei|svarar|besvara)(?!\p{L})"#
    )
    private static let absence = re(
        #"(?<!\p{L})(?:(?:not|nicht|non|niet|no|não|inte|pas)\s+(?:\p{L}+\s+)?(?:available|reachable|erreichbar|joignable|disponible|disponibile|reperibile|bereikbaar|beschikbaar|disponível|nåbar|anträffbar)|out\s+of\s+(?:the\s+)?office|out|ooo|vacation|holiday|travell?ing|on\s+the\s+road|unterwegs|dienstreise|geschäftsreise|en\s+déplacement|de\s+viaje|in\s+viaggio|in\s+trasferta|op\s+reis|em\s+viagem|på\s+resa|på\s+tjänsteresa|holidays|leave|away|absent|off|abwesend|abwesenheit|urlaub|nicht\s+im\s+büro|außer\s+haus|absente|absence|congé|congés|vacances|ausente|vacaciones|fuera|assente|ferie|fuori|afwezig|vakantie|verlof|férias|ausência|frånvarande|ledig|semester|tjänstledig)(?!\p{L})"#
    )
}
