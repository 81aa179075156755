/// Month, weekday, number and duration words of the eight reply languages, lowercased, for the
/// absence-notice date scanner. Abbreviations are only matched next to a day number.
enum DateLexicon {
    static let months: [String: Int] = {
        let names: [[String]] = [
            ["january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "januari", "janeiro"],
            ["february", "feb", "februar", "février", "fevrier", "févr", "fevr", "febrero", "febbraio", "februari", "fevereiro", "fev"],
            ["march", "mar", "märz", "maerz", "mär", "mars", "marzo", "maart", "mrt", "março", "marco"],
            ["april", "apr", "avril", "avr", "abril", "abr", "aprile"],
            ["may", "mai", "mayo", "maggio", "mag", "mei", "maio", "maj"],
            ["june", "jun", "juni", "juin", "junio", "giugno", "giu", "junho"],
            ["july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho"],
            ["august", "aug", "août", "aout", "agosto", "ago", "augustus", "augusti"],
            ["september", "sept", "sep", "septembre", "septiembre", "setiembre", "settembre", "setembro"],
            ["october", "oct", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro"],
            ["november", "nov", "novembre", "noviembre", "novembro"],
            ["december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dicembre", "dezembro"],
        ]
        var map: [String: Int] = [:]
        for (i, list) in names.enumerated() { for n in list { map[n] = i + 1 } }
        return map
    }()

    /// Full weekday names only: short forms ("do", "so", "mar") are ordinary words in some languages.
    static let weekdays: [String: Int] = {
        let names: [[String]] = [
            ["monday", "montag", "lundi", "lunes", "lunedì", "lunedi", "maandag", "segunda-feira", "segunda", "måndag", "mandag"],
            ["tuesday", "dienstag", "mardi", "martes", "martedì", "martedi", "dinsdag", "terça-feira", "terca-feira", "terça", "tisdag"],
            ["wednesday", "mittwoch", "mercredi", "miércoles", "miercoles", "mercoledì", "mercoledi", "woensdag", "quarta-feira", "onsdag"],
            ["thursday", "donnerstag", "jeudi", "jueves", "giovedì", "giovedi", "donderdag", "quinta-feira", "torsdag"],
            ["friday", "freitag", "vendredi", "viernes", "venerdì", "venerdi", "vrijdag", "sexta-feira", "sexta", "fredag"],
            ["saturday", "samstag", "sonnabend", "samedi", "sábado", "sabado", "sabato", "zaterdag", "lördag"],
            ["sunday", "sonntag", "dimanche", "domingo", "domenica", "zondag", "söndag"],
        ]
        var map: [String: Int] = [:]
        for (i, list) in names.enumerated() { for n in list { map[n] = i + 1 } }
        return map
    }()

    /// Weekday abbreviations allowed only directly before a date ("Mon, 14 Dec", "Fr. 11.12.").
    static let weekdayPrefixes = ["mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "mo", "di", "mi", "do", "fr", "sa", "so"]

    static let numbers: [String: Int] = [
        "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "couple of": 2,
        "ein": 1, "eine": 1, "einer": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "zehn": 10,
        "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "dix": 10, "quinze": 15,
        "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "diez": 10, "quince": 15,
        "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7, "dieci": 10, "quindici": 15,
        "een": 1, "één": 1, "twee": 2, "drie": 3, "vijf": 5, "zes": 6, "zeven": 7, "tien": 10,
        "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4, "sete": 7, "dez": 10,
        "en": 1, "ett": 1, "två": 2, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "tio": 10,
    ]

    /// Duration units in days.
    static let units: [String: Int] = [
        "day": 1, "days": 1, "week": 7, "weeks": 7, "tag": 1, "tage": 1, "tagen": 1, "woche": 7, "wochen": 7,
        "jour": 1, "jours": 1, "semaine": 7, "semaines": 7, "día": 1, "días": 1, "dia": 1, "dias": 1, "semana": 7, "semanas": 7,
        "giorno": 1, "giorni": 1, "settimana": 7, "settimane": 7, "dag": 1, "dagen": 1, "weken": 7,
        "dagar": 1, "vecka": 7, "veckor": 7, "veckan": 7,
    ]

    static let today = ["today", "heute", "aujourd'hui", "hoy", "oggi", "vandaag", "hoje", "idag", "i dag"]
    static let tomorrow = ["tomorrow", "morgen", "demain", "mañana", "domani", "amanhã", "amanha", "imorgon", "i morgon"]
    static let nextWeek = [
        "next week", "nächste woche", "nächsten woche", "kommende woche", "la semaine prochaine", "semaine prochaine",
        "la próxima semana", "próxima semana", "proxima semana", "la semana que viene", "la prossima settimana", "prossima settimana",
        "settimana prossima", "volgende week", "na próxima semana", "nästa vecka",
    ]
    static let thisWeek = [
        "this week", "diese woche", "dieser woche", "cette semaine", "esta semana", "questa settimana", "deze week", "denna vecka",
        "den här veckan", "resten av veckan", "rest of the week", "rest of this week", "le reste de la semaine",
    ]
    static let endOfNextWeek = [
        "end of next week", "ende nächster woche", "ende der nächsten woche", "ende kommender woche", "fin de la semaine prochaine",
        "finales de la próxima semana", "final de la próxima semana", "fine della prossima settimana", "fine settimana prossima",
        "eind volgende week", "eind van volgende week", "final da próxima semana", "fim da próxima semana", "slutet av nästa vecka",
    ]
    static let endOfThisWeek = [
        "end of this week", "end of the week", "ende dieser woche", "ende der woche", "fin de semaine", "fin de cette semaine",
        "final de esta semana", "fine settimana", "fine di questa settimana", "eind van deze week", "eind deze week",
        "final desta semana", "fim desta semana", "slutet av veckan", "slutet av denna vecka",
    ]
}
