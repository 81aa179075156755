import Foundation

/// Phrase rules for reply intents, lowercased, in the eight reply languages.
enum IntentRules {
    /// Whole words or phrases, case-sensitive: callers pass lowercased text (case folding made
    /// matching several times slower).
    private static func re(_ alternatives: [String]) -> PhraseSet { PhraseSet(alternatives) }

    /// Present-tense absence ("I am out of the office"), not "I was on vacation, sorry for the delay".
    static let absence = re([
        #"(?:i\s+am|i'm|i\s+will\s+be|currently)\s+(?:currently\s+)?(?:out\s+of\s+(?:the\s+)?office|on\s+(?:annual\s+|parental\s+|maternity\s+|paternity\s+|sick\s+)?(?:leave|vacation|holiday))"#,
        "automatic reply", "auto-reply", "abwesenheitsnotiz",
        #"(?:ich\s+bin|bin\s+ich)\s+(?:derzeit\s+|zurzeit\s+|bis\s+\S+\s+)?(?:nicht\s+im\s+büro|im\s+urlaub|abwesend)"#,
        "réponse automatique", #"je\s+suis\s+(?:actuellement\s+)?(?:absente?|en\s+congés?|en\s+vacances)"#, "respuesta automática",
        #"(?:estoy|me\s+encuentro)\s+(?:fuera\s+de\s+la\s+oficina|de\s+vacaciones|ausente)"#, "risposta automatica",
        #"sono\s+(?:attualmente\s+)?(?:fuori\s+(?:ufficio|sede)|in\s+ferie|assente)"#, "automatisch antwoord",
        #"ik\s+ben\s+(?:momenteel\s+|tot\s+\S+\s+)?(?:afwezig|met\s+vakantie|niet\s+op\s+kantoor)"#, "resposta automática",
        #"estou\s+(?:fora\s+do\s+escritório|de\s+férias|ausente)"#, "autosvar", #"jag\s+är\s+(?:frånvarande|på\s+semester|ledig|tjänstledig)"#,
    ])

    /// The person has left: their mail points elsewhere for good.
    static let departed = re([
        #"no\s+longer\s+(?:with|at|work|working|employed|in\s+use|part\s+of)"#, #"(?:have|has|i've|she's|he's)\s+left\s+(?:the|this|\p{Lu}?\p{L}+)"#,
        #"left\s+the\s+(?:company|organi[sz]ation|firm|business)"#, #"nicht\s+mehr\s+(?:im\s+unternehmen|bei|für|tätig|in\s+verwendung)"#,
        #"(?:habe|hat)\s+(?:das\s+unternehmen|die\s+firma)\s+verlassen"#, #"ne\s+fait\s+plus\s+partie"#, #"(?:a|ai)\s+quitté"#,
        #"ya\s+no\s+(?:trabaj[ao]|forma\s+parte)"#, #"dejó\s+la\s+empresa"#, #"non\s+(?:lavora|lavoro|fa|faccio)\s+più"#, #"ha\s+lasciato"#,
        #"werkt\s+(?:hier\s+)?niet\s+meer"#, #"werk\s+hier\s+niet\s+meer"#, #"niet\s+meer\s+werkzaam"#, #"uit\s+dienst"#,
        #"não\s+(?:trabalha|trabalho|faz|faço)\s+mais"#, #"deixou\s+a\s+empresa"#, #"slutat"#, #"(?:jobbar|arbetar)\s+inte\s+(?:längre|kvar)"#,
    ])

    static let wrongPerson = re([
        "wrong person", #"not\s+the\s+(?:right|correct|best|appropriate)\s+(?:person|contact)"#, #"(?:i'm|i\s+am)\s+not\s+responsible\s+for"#,
        #"not\s+(?:my|in\s+my)\s+(?:area|department|remit)"#, #"(?:i|we)\s+(?:don't|do\s+not)\s+(?:handle|deal\s+with)"#,
        #"nicht\s+(?:der|die)\s+richtige\s+ansprechpart\p{L}*"#, #"nicht\s+zuständig"#, #"pas\s+la\s+bonne\s+personne"#,
        #"pas\s+le\s+bon\s+interlocuteur"#, #"ne\s+suis\s+pas\s+(?:en\s+charge|responsable)"#,
        #"no\s+soy\s+(?:la\s+persona|el\s+contacto)\s+(?:adecuad[ao]|indicad[ao]|correct[ao])"#, #"no\s+me\s+encargo"#,
        #"non\s+sono\s+la\s+persona\s+giusta"#, #"non\s+mi\s+occupo"#, #"niet\s+de\s+juiste\s+(?:contact)?persoon"#,
        #"niet\s+verantwoordelijk"#, #"não\s+sou\s+(?:a\s+pessoa\s+certa|a\s+pessoa\s+indicada|o\s+responsável|a\s+responsável)"#,
        #"inte\s+rätt\s+person"#, #"fel\s+person"#, #"inte\s+ansvarig"#,
    ])

    static let notInterested = re([
        #"not\s+(?:\p{L}+\s+)?interested"#, "no interest", #"no,?\s+thanks?"#, #"no,?\s+thank\s+you"#, #"not\s+a\s+(?:good\s+)?fit"#,
        #"(?:we're|we\s+are)\s+all\s+set"#, #"(?:we|i)\s+already\s+(?:have|use|work\s+with)"#, "not at this time", #"not\s+looking\s+for"#,
        #"(?:will|i'll|we'll)\s+pass"#, #"(?:go|going|went|gone)\s+with\s+(?:another|a\s+different|a\s+competitor|someone\s+else)"#,
        #"decided\s+(?:against|not\s+to)"#, #"kein(?:e|en)?\s+interesse"#, #"nicht\s+interessiert"#, #"kein(?:en)?\s+bedarf"#, #"nein,?\s+danke"#,
        #"pas\s+intéressée?"#, #"ne\s+suis\s+pas\s+intéressée?"#, #"non,?\s+merci"#, #"pas\s+(?:de\s+)?besoin"#, #"no\s+estoy\s+interesad[ao]"#,
        #"no\s+(?:me|nos)\s+interesa"#, #"no,?\s+gracias"#, #"non\s+(?:sono|siamo)\s+interessat[aio]"#, #"non\s+(?:mi|ci)\s+interessa"#,
        #"no,?\s+grazie"#, "geen interesse", #"niet\s+geïnteresseerd"#, #"nee,?\s+(?:bedankt|dank\s+je)"#,
        #"não\s+(?:tenho|temos)\s+interesse"#, #"não\s+estou\s+interessad[ao]"#, #"não,?\s+obrigad[ao]"#, #"inte\s+intresserad\p{L}*"#,
        "inget intresse", #"nej,?\s+tack"#, "inget behov",
        // "not right now", "we already have one"
        #"not\s+(?:right\s+)?now"#, #"(?:aktuell|derzeit|momentan|im\s+moment|zurzeit)\s+nicht"#,
        #"pas\s+(?:pour\s+le\s+moment|maintenant|pour\s+l'instant)"#,
        #"(?:por\s+ahora|de\s+momento|ahora\s+mismo)\s+no"#, #"(?:per\s+ora|al\s+momento|per\s+il\s+momento)\s+no(?!\p{L})"#,
        #"(?:op\s+dit\s+moment|nu\s+even|momenteel)\s+niet"#, #"(?:no\s+momento|por\s+enquanto|agora)\s+não"#, #"inte\s+just\s+nu"#,
        #"(?:haben|hat)\s+(?:bereits|schon)\s+(?:ein|eine|einen)"#, #"avons\s+déjà\s+(?:un|une)"#, #"ya\s+(?:tenemos|contamos\s+con)"#,
        #"abbiamo\s+già\s+(?:un|una)"#, #"(?:hebben|heb)\s+al\s+(?:een|een\s+andere)"#, #"já\s+(?:temos|usamos|trabalhamos)"#,
        #"(?:har|använder)\s+redan"#,
    ])

    static let meeting = re([
        #"(?:schedule|set\s+up|book|arrange|find)\s+(?:a|some)\s+(?:\p{L}+\s+)?(?:call|meeting|demo|time|slot|chat)"#,
        #"(?:hop|jump)\s+on\s+a\s+call"#, #"a\s+(?:quick\s+)?call\s+(?:next|on|this|tomorrow)"#, #"let's\s+(?:meet|talk|chat|set\s+up)"#,
        #"are\s+you\s+(?:free|available)"#, #"how\s+about\s+(?:monday|tuesday|wednesday|thursday|friday|next|tomorrow)"#,
        #"(?:monday|tuesday|wednesday|thursday|friday|tomorrow)\s+(?:at\s+)?\d{1,2}(?::\d\d)?\s*(?:am|pm)?\s+works"#,
        #"send\s+(?:me\s+|over\s+)?(?:an?\s+)?(?:calendar\s+)?invite"#, "calendly",
        // "call me" in each language: a request for a conversation.
        #"(?:call|ring)\s+me"#, #"give\s+me\s+a\s+(?:call|ring)"#, #"rufen\s+sie\s+mich\s+(?:\p{L}+\s+){0,3}an"#,
        #"mich\s+(?:\p{L}+\s+){0,3}anrufen"#, #"m'appeler"#, #"appelez-moi"#, #"llám(?:ame|eme|enme)"#, #"me\s+(?:puede|pueden|podría)\s+llamar"#,
        #"chiamarmi"#, #"mi\s+(?:chiami|chiamate)"#, #"(?:me|mij)\s+(?:\p{L}+\s+){0,3}bellen"#, #"bel\s+(?:me|mij)"#,
        #"me\s+ligar"#, #"ligue-me"#, #"me\s+liga"#, #"ring\s+mig"#,
        #"(?:seriez|serez|êtes|serais)[- ]vous\s+disponible"#, #"quand\s+(?:seriez|êtes|pourriez|serez)[- ]vous"#,
        #"hablar\s+(?:por\s+teléfono|por\s+videollamada|esta\s+semana|la\s+próxima\s+semana|mañana)"#, #"una\s+videollamada"#,
        #"(?:when|what\s+time)\s+(?:are\s+you|would\s+you\s+be|works\s+for\s+you)"#, #"wann\s+(?:haben|hätten|passt)"#,
        #"termin(?:vorschlag|e)?"#, #"telefonat"#, #"passt\s+(?:es\s+)?(?:ihnen|dir|euch)"#, #"kurze[ns]?\s+(?:gespräch|telefonat|austausch)"#,
        #"(?:gespräch|call)\s+(?:vereinbaren|ausmachen)"#, #"haben\s+sie\s+(?:am\s+\p{L}+\s+)?zeit"#,
        "rendez-vous", #"(?:un|d'un)\s+(?:appel|échange)"#, #"êtes-vous\s+disponible"#, #"(?:caler|fixer|planifier)\s+un"#,
        "reunión", #"una\s+llamada"#, "agendar", #"¿?tiene[s]?\s+tiempo"#, #"(?:está|estás)\s+disponible"#, "riunione", #"una\s+chiamata"#,
        #"fissare\s+un"#, #"(?:è|sei)\s+disponibile"#, "sentirci", "afspraak", "belafspraak", #"een\s+(?:gesprek|call)\s+(?:inplannen|plannen)"#,
        "inplannen", "reunião", #"uma\s+(?:chamada|ligação|conversa)"#, "marcar", "möte", #"boka\s+(?:ett|en|in)"#, #"ett\s+samtal"#,
    ])

    static let interested = re([
        "interested", #"sounds\s+(?:good|great|interesting|promising)"#, #"tell\s+me\s+more"#,
        #"(?:send|share)\s+(?:me\s+|us\s+)?(?:some\s+)?more\s+(?:info|details|information)"#,
        #"(?:like|love|happy)\s+to\s+(?:learn|know|hear|see)\s+more"#, "keen", "count me in", #"let's\s+do\s+it"#, "interessiert",
        #"klingt\s+(?:gut|interessant|spannend)"#, #"mehr\s+(?:informationen|infos|details)"#, #"intéressée?"#, #"(?:m'|nous\s+)intéresse"#,
        #"en\s+savoir\s+plus"#, #"plus\s+d'informations"#, #"interesad[ao]"#, #"(?:me|nos)\s+interesa"#, #"más\s+información"#,
        #"suena\s+(?:bien|interesante)"#, #"interessat[aio]"#, #"(?:mi|ci)\s+interessa"#, #"(?:maggiori|più)\s+informazioni"#,
        #"sembra\s+interessante"#, #"geïnteresseerd"#, #"geinteresseerd"#, #"klinkt\s+(?:goed|interessant)"#, #"meer\s+informatie"#,
        #"interessad[ao]"#, #"(?:tenho|temos)\s+interesse"#, #"mais\s+informações"#, #"parece\s+interessante"#, #"intresserad\p{L}*"#,
        #"låter\s+(?:bra|intressant)"#, #"mer\s+information"#,
        #"happy\s+to\s+(?:take\s+a\s+look|learn|hear|explore|try)"#, #"open\s+to\s+(?:it|this|a\s+demo|learning)"#, #"worth\s+a\s+(?:look|try|chat)"#,
        #"schicken\s+sie\s+(?:mir|uns)\s+(?:bitte\s+|gerne\s+)?(?:ein|das|weitere|mehr|ihr)"#,
        #"senden\s+sie\s+(?:mir|uns)\s+(?:bitte\s+|gerne\s+)?(?:ein|das|weitere|mehr)"#,
        #"(?:envoyez|envoyer)[- ]moi\s+(?:une|la|plus|des|votre)"#, #"saber\s+más"#, #"me\s+encantaría"#,
        #"(?:mi|ci)\s+(?:mandi|invii|mandate|inviate)\s+(?:pure\s+)?(?:una|la|il|un|maggiori)"#, #"meer\s+info"#,
        #"(?:stuur|stuurt)\s+(?:me|mij|ons)\s+(?:gerust\s+|graag\s+)?(?:een|de|meer)"#, #"(?:me|nos)\s+(?:envie|mande)\s+(?:uma|a|o|mais)"#,
        #"vore\s+intressant"#, #"veta\s+mer"#, #"skicka\s+(?:gärna\s+)?(?:en|mer|ett)"#,
    ])
}
