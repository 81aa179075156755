import Foundation

/// Whether a person's reply asks not to be contacted again. Rules only: a request phrase in a
/// sentence of the new text, unless that sentence negates it ("don't remove me"), asks how
/// unsubscribing works, or says the writer cannot do it themselves.
public enum Unsubscribe {
    /// - Parameter replyText: the new text of the reply (`InboundMessage.replyText`); the
    ///   signature and its footers (which often say "unsubscribe") are split off here.
    public static func isRequested(_ replyText: String) -> Bool { isRequested(lowerBody: ReplyIntent.Prepared(replyText).lower) }

    /// - Parameter body: the reply's start without its signature, lowercased (`ReplyIntent.Prepared`).
    static func isRequested(lowerBody body: String) -> Bool {
        // Most replies name none of the words a request needs: the patterns below are not run for them.
        guard ByteSearch.anyOccurs(anchors, in: body) else { return false }
        if matches(bareWord, body) { return true }
        return ReplySentences.split(body).contains { sentence in
            guard let hit = request.firstMatch(sentence) else { return false }
            let ns = sentence as NSString
            let before = ns.substring(to: hit.location)
            let after = ns.substring(from: NSMaxRange(hit))
            // "Unsubscribe? No way." — a question is a request only when it asks someone to act.
            if sentence.hasSuffix("?") && !matches(modal, sentence) { return false }
            // "vom Workshop abmelden", "denme de baja del evento": signing off from an event, not from mail.
            if matches(event, sentence) && !matches(mail, sentence) { return false }
            return !matches(negationBefore, before) && !matches(negationAfter, after) && !matches(notARequest, sentence)
        }
    }

    // Case-sensitive on purpose: every input is lowercased first, and ICU's case folding made these
    // patterns the most expensive part of receiving a reply.
    private static func re(_ p: String) -> NSRegularExpression { try! NSRegularExpression(pattern: p) }
    static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(location: 0, length: (s as NSString).length)) != nil
    }

    /// Each pattern below (and `bareWord`) contains one of these: a text without any cannot match.
    /// `ReplyLabelTests` (every labelled request, in eight languages) fails if one is missing.
    private static let anchors = anchorWords.map { Array($0.utf8) }
    private static let anchorWords = [
        "unsubscrib", "remov", "taken off", "opted out", "take", "stop", "quit", "contact", "mail", "writ", "messag", "reach", "no more",
        "no further", "opt", "leave me alone", "delete", "erase", "abmelden", "abbestellen", "austragen", "sie mich", "keine", "nicht mehr",
        "entfernen", "streichen", "löschen", "retir", "désinscri", "desinscri", "désabonn", "desabonn", "supprim", "enlev", "radier", "écri",
        "envoy", "relanc", "sollicit", "recevoir", "arrêtez", "cessez", "no me", "baja", "elimín", "elimin", "quít", "sáquen", "saquen",
        "bórren", "borren", "retír", "pued", "podr", "dej", "recibir", "cancel", "rimuov", "togli", "disiscriv", "contatt", "scriv", "inviat",
        "mandat", "smettete", "ricevere", "uitschrijven", "afmelden", "schrijf", "meld", "verwijder", "haal", "geen", "niet meer",
        "descadastr", "tirem", "exclu", "não me", "parem", "receber", "avregistrera", "avprenumerera", "avanmäl", "avsluta", "ta bort mig",
        "sluta", "vill inte", "kontakta", "stryk",
    ]

    /// A reply that is only the word.
    private static let bareWord = re(
        #"^\s*(?:please\s+)?(?:unsubscribe|stop|remove|remove\s+me|abmelden|austragen|désinscription|desinscription|désabonnement|baja|uitschrijven|afmelden|descadastrar|avregistrera|avsluta|cancellami|disiscrivimi|cancelar)\s*[.!]*\s*$"#
    )

    /// "...from your list", "...from the newsletter": what "remove me" is about when it is about mail.
    private static let list =
        #"\s+(?:from|off|de|du|des|da|do|van|uit|från|aus|von)\s+(?:\p{L}+\s+){0,3}?(?:list|lists|mailing\p{L}*|database|e-?mails?|newsletters?|distribution|sequence|campaign|contacts?|cadence|system|crm|liste|fichier|base|diffusion|envois|lista|listas|correos|mailinglijst|verteiler|register)(?!\p{L})"#
    /// The request ends there ("Please remove me.", "remove me, thanks"): nothing else is being removed.
    private static let end =
        #"(?=\s*(?:[.!,;?]|$|please|pls|thanks|thank|asap|now|immediately|merci|svp|s'il|por\s+favor|gracias|grazie|bitte|danke|tack|obrigad|bedankt|graag))"#
    private static let when =
        #"(?:before|until|till|today|tomorrow|during|after|this\s+week|next\s+week|on\s+(?:monday|tuesday|wednesday|thursday|friday|weekends?|the\s+weekend))"#

    // Emails only: "bitte nicht mehr anrufen, E-Mail ist ok" asks for no calls, not for no mail; and
    // "remove me from the invite", "no me envíe más el informe" are about something else.
    static let request = PhraseSet(
        [
            // English
            #"(?:^|please\s+|pls\s+|kindly\s+|just\s+)unsubscribe(?!\p{L})"#, #"unsubscribe\s+(?:me|us|my|this)(?!\p{L})"#,
            #"(?:want|wish|like|need)\s+to\s+(?:be\s+)?(?:unsubscribe|removed|taken\s+off|opted\s+out)"#,
            #"remove\s+(?:me|us|my\s+(?:email|e-mail|address|name|details|data|contact)|this\s+(?:email|address))(?!\p{L})(?:"# + list + "|" + end
                + ")",
            #"take\s+(?:me|us|my\s+\p{L}+)\s+off(?:\s+(?:\p{L}+\s+){0,3}?(?:list|lists|mailing\p{L}*|database|distribution|newsletters?|e-?mails?|sequence|campaign)|"#
                + end + ")",
            // "Please stop emailing me until I'm back" asks for a pause, as "don't email me before Monday" does.
            #"(?:stop|quit)\s+(?:e-?mailing|mailing|contacting|messaging|writing\s+to\s+me|spamming|reaching\s+out)(?!(?:\s+(?:me|us))?\s+"#
                + when + #"(?!\p{L}))"#,
            // "stop sending the invoices as PDF" is not a request; "stop sending me emails" is.
            #"(?:stop|quit)\s+sending\s+(?:me\s+|us\s+)?(?:any\s+more\s+|more\s+|further\s+|these\s+|those\s+|your\s+|all\s+)?(?:e-?mails|mails|messages|newsletters?|marketing|spam|offers|stuff)(?!\p{L})"#,
            #"(?:stop|quit)\s+sending\s+(?:me|us)"# + end,
            #"(?:do\s+not|don't|dont|never)\s+(?:contact|e-?mail|write\s+to|message|reach\s+out\s+to)\s+(?:me|us)(?!\s+"# + when + #"(?!\p{L}))"#,
            #"no\s+(?:more|further)\s+(?:e-?mails|mails|messages|contact)"#, #"opt\s+(?:me\s+)?out"#, #"leave\s+me\s+alone"#,
            #"(?:delete|erase)\s+my\s+(?:data|e-?mail|address|details|contact)"#,
            // German
            #"(?<!\p{L})(?:abmelden|abbestellen|austragen)(?!\p{L})"#, #"(?:trag|tragen|nehmen|streichen|löschen|entfernen|melden)\s+sie\s+mich"#,
            #"keine\s+weiteren\s+(?:e-?mails|mails|nachrichten|zusendungen|anfragen)|keine\s+(?:e-?mails|mails|nachrichten)\s+mehr"#,
            #"nicht\s+mehr\s+(?:kontaktieren|anschreiben|schreiben|mailen|zusenden|belästigen)"#,
            #"mich\s+(?:(?!nicht\s)\p{L}+\s+){0,4}(?:zu\s+)?(?:entfernen|austragen|streichen)(?!\p{L})"#,
            #"(?:löschen|entfernen)\s+sie\s+meine\s+(?:daten|adresse|e-?mail)"#,
            // French
            #"(?:retirer|désinscrire|desinscrire|désabonner|desabonner|supprimer|enlever|radier)"# + list,
            #"(?:retirez|désinscrivez|desinscrivez|supprimez|enlevez|désabonnez|desabonnez)[- ]moi"#,
            #"me\s+(?:désinscrire|desinscrire|désabonner|desabonner)"#, #"me\s+(?:retirer|supprimer|radier)(?:"# + list + "|" + end + ")",
            #"ne\s+(?:plus\s+)?me\s+(?:contacter|écrire|envoyer|relancer|solliciter)|ne\s+me\s+(?:contactez|écrivez|envoyez|relancez)\s+plus"#,
            #"ne\s+(?:souhaite|veux|désire|desire)\s+plus\s+(?:recevoir|être\s+contacté)"#,
            #"(?:arrêtez|cessez)\s+de\s+(?:m'|me\s+)(?:envoyer|écrire|contacter|relancer|solliciter)"#,
            #"(?<!\p{L})(?:désinscription|desinscription|désabonnement)(?!\p{L})"#,
            // Spanish
            #"no\s+me\s+(?:escriban|escriba|contacten|contacte|vuelvan|vuelva)"#,
            #"no\s+me\s+(?:envíen|envien|envíe|envie|manden|mande)(?:\s+más)?(?:\s+(?:correos?|e-?mails?|mails?|mensajes|nada|publicidad|información|newsletters?|boletines|comunicaciones)|"#
                + end + ")",
            #"(?:dar(?:me)?|den(?:me)?|me\s+den)\s+de\s+baja"#,
            #"(?:elimínenme|eliminenme|elimíneme|elimineme|eliminarme|quitarme|quítenme|quitenme|sáquenme|saquenme|bórrenme|borrenme|retírenme|retirenme)"#,
            #"me\s+(?:pueden|puede|podrían|podría|podrian|podria)\s+(?:quitar|eliminar|borrar|sacar|retirar|dar\s+de\s+baja)"#,
            #"dej(?:en|e)\s+de\s+(?:enviarme|escribirme|contactarme|mandarme)"#, #"no\s+(?:quiero|deseo)\s+recibir\s+más"#,
            // Italian
            #"(?:cancellatemi|cancellarmi|rimuovetemi|rimuovermi|toglietemi|togliermi|eliminatemi|disiscrivetemi|disiscrivermi)(?!\p{L})"#,
            #"non\s+(?:contattatemi|scrivetemi)|non\s+mi\s+(?:contattate|scrivete)\s+più"#,
            #"non\s+(?:inviatemi|mandatemi|mi\s+inviate|mi\s+mandate)(?:\s+più)?(?:\s+(?:e-?mail|messaggi|newsletter|comunicazioni|nulla|niente)|"#
                + end + ")",
            #"smettete(?:la)?\s+di\s+(?:scrivermi|inviarmi|contattarmi|mandarmi)"#, #"non\s+(?:voglio|desidero)\s+(?:più\s+)?ricevere"#,
            // Dutch
            #"(?<!\p{L})(?:uitschrijven|afmelden)(?!\p{L})"#, #"schrijf\s+(?:me|mij)\s+(?:\p{L}+\s+)?uit|meld\s+(?:me|mij)\s+(?:\p{L}+\s+)?af"#,
            #"verwijder\s+(?:me|mij|mijn)(?!\p{L})"#, #"(?:me|mij)\s+(?:(?!niet\s)\p{L}+\s+){0,4}(?:verwijderen|uitschrijven|afmelden)"#,
            #"haal\s+(?:me|mij)\s+(?:\p{L}+\s+)?(?:van|uit)"#,
            #"geen\s+(?:e-?mails|mails|berichten)\s+meer"#, #"niet\s+meer\s+(?:mailen|e-mailen|contacteren|benaderen|sturen)"#,
            #"stop\s+met\s+(?:mailen|e-mailen|sturen|contacteren)"#,
            // Portuguese
            #"descadastr\p{L}*"#, #"(?:remova|remover|retire|tirem|excluam|exclua)-me"#,
            #"me\s+(?:remova|removam|retire|tirem|excluam|exclua|descadastre)(?!\p{L})"#,
            #"não\s+me\s+(?:contatem|contate|contactem|escrevam)"#,
            #"não\s+me\s+(?:enviem|envie|mandem|mande)(?:\s+mais)?(?:\s+(?:e-?mails?|mensagens|nada|propaganda|newsletters?|comunicações)|"# + end
                + ")",
            #"parem\s+de\s+me\s+(?:enviar|mandar|contatar|contactar|escrever)"#, #"não\s+(?:quero|desejo)\s+(?:mais\s+)?receber"#,
            // Swedish
            #"(?<!\p{L})(?:avregistrera|avprenumerera|avanmäl\p{L}*)"#, #"avsluta\s+(?:min\s+)?prenumeration"#, #"ta\s+bort\s+mig"#,
            #"sluta\s+(?:maila|mejla|skicka|kontakta|höra\s+av)"#, #"vill\s+inte\s+(?:ha|få)\s+(?:fler|mer|några\s+fler)"#,
            #"kontakta\s+mig\s+inte"#, #"stryk\s+mig"#,
        ], before: "", after: "")

    private static let event = re(
        #"(?<!\p{L})(?:meeting|meetings|webinar|workshop|event|events|invite|invitation|call|conference|training|course|session|termin|veranstaltung|einladung|schulung|kurs|konferenz|seminar|réunion|rendez-vous|formation|évènement|événement|conférence|reunión|evento|invitación|curso|llamada|riunione|invito|corso|chiamata|vergadering|uitnodiging|cursus|bijeenkomst|evenement|reunião|convite|mötet|möte|inbjudan|kursen|utbildning|eventet)(?!\p{L})"#
    )
    private static let mail = re(
        #"(?:list|mailing|newsletter|e-?mails?|mails|messages|verteiler|liste|nachrichten|nieuwsbrief|lista|correos|diffusion|boletín|utskick|nyhetsbrev|sequence|campaign|marketing)"#
    )

    private static let modal = re(
        #"(?<!\p{L})(?:can|could|would|will|please|kindly|pourriez|pouvez|pourrais|merci|können|könnten|würden|bitte|puede|pueden|podría|podrían|podrías|puedes|potete|potreste|può|puoi|kunt|kunnen|wilt|zou|pode|podem|poderia|poderiam|kan|kunde|skulle|snälla)(?!\p{L})"#
    )

    /// "don't remove me", "bitte nicht abmelden", "ne me retirez pas".
    private static let negationBefore = re(
        #"(?<!\p{L})(?:don't|dont|do\s+not|please\s+don't|never|nicht|bitte\s+nicht|no|non|niet|não|nao|inte|ne)\s+(?:\p{L}+\s+)?$"#)
    private static let negationAfter = re(#"^\s*(?:nicht|pas|not|niet|inte)(?!\p{L})"#)

    /// Asking how it works, or saying they cannot do it: a support question, not a request.
    private static let notARequest = re(
        #"(?<!\p{L})(?:(?:unsubscribe|abmelde|unsubscribing)\p{L}*[\s-]+(?:link|button|page|option|knopf|seite)|how\s+(?:do|can|does|would|to)|can't|cannot|can\s+not|unable\s+to|couldn't|not\s+able|tried\s+to|trying\s+to|what\s+happens|if\s+i|wie\s+(?:kann|funktioniert|melde)|wenn\s+ich|kann\s+mich\s+nicht|comment\s+(?:puis|faire|fonctionne|se|on)|si\s+je|je\s+n'arrive|cómo|si\s+me|no\s+puedo|come\s+(?:posso|funziona|faccio|si)|se\s+mi|non\s+riesco|hoe\s+(?:kan|werkt|moet)|als\s+ik|lukt\s+(?:me\s+)?niet|como\s+(?:posso|faço|funciona)|se\s+eu|não\s+consigo|hur\s+(?:kan|gör|fungerar)|om\s+jag|lyckas\s+inte)(?!\p{L})"#
    )
}

/// Sentences of reply text: split at line breaks and at sentence punctuation.
enum ReplySentences {
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var cur = ""
        for ch in text {
            cur.append(ch)
            if ch == "\n" || ch == "." || ch == "!" || ch == "?" || ch == ";" {
                let t = cur.trimmed
                if !t.isEmpty { out.append(t) }
                cur = ""
            }
        }
        if !cur.trimmed.isEmpty { out.append(cur.trimmed) }
        return out
    }
}
