@testable import NudgeMIME

/// An absence notice with the return date a person reads from it ("YYYY-MM-DD", nil: none stated).
/// December 2026: Mon 7, Wed 9, Fri 11, Mon 14, Mon 21; Fri 1 and Mon 4 January 2027.
struct AbsenceLabel {
    var language: ReplyLanguage
    var sent: String
    var timeZone: String
    var subject: String
    var text: String
    var expected: String?
    /// The text is an HTML part; the test converts it as `BodyText` does.
    var html = false
}

private func a(
    _ l: ReplyLanguage, _ sent: String, _ tz: String, _ subject: String, _ text: String, _ expected: String?, html: Bool = false
) -> AbsenceLabel {
    AbsenceLabel(language: l, sent: sent, timeZone: tz, subject: subject, text: text, expected: expected, html: html)
}

private let thu3 = "Thu, 03 Dec 2026 09:12:44 +0100"
private let mon7 = "Mon, 07 Dec 2026 08:01:02 +0100"
private let thu17 = "Thu, 17 Dec 2026 16:40:00 +0100"
private let wed2 = "Wed, 2 Dec 2026 17:05:31 -0500"

let absenceLabels: [AbsenceLabel] = [
    // English
    a(
        .en, "Thu, 03 Dec 2026 09:00:00 +0000", "Europe/London", "Out of Office",
        "Thank you for your email. I am out of the office from 7 to 11 December with limited access to email.\nFor urgent matters please contact support@acme.com.",
        "2026-12-14"),
    a(.en, "Thu, 03 Dec 2026 09:00:00 +0000", "Europe/London", "Automatic reply: Proposal", "Hi,\n\nI'm back on 9 December.\n\nTom", "2026-12-09"),
    a(
        .en, "Thu, 03 Dec 2026 09:00:00 +0000", "Europe/Dublin", "Annual leave",
        "I am on annual leave until Wednesday 9 December inclusive and will respond on my return.", "2026-12-10"),
    a(
        .en, "Thu, 03 Dec 2026 14:00:00 -0500", "America/New_York", "Out of office",
        "I will be out of the office until 12/14 and will have limited access to email.", "2026-12-14"),
    a(.en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Away", "I'm away until 14/12/2026. I'll reply when I'm back.", "2026-12-14"),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Re: Intro",
        "Thanks for your message. I'm travelling and will be back in the office on December 14th.", "2026-12-14"),
    a(.en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Out of office", "I'm out until the 14th with no access to email.", "2026-12-14"),
    a(.en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Out of office", "I'm off today and tomorrow, back next Monday.", "2026-12-07"),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Automatic reply",
        "Hello,\nI am currently on parental leave and will return on\n4 January 2027. In the meantime please write to\nsales@acme.co.uk.",
        "2027-01-04"),
    a(
        .en, "Mon, 07 Dec 2026 09:30:00 +0000", "Europe/London", "Out of office",
        "I'm on holiday and back in two weeks. Please contact jane@acme.com for anything urgent.", "2026-12-21"),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Out of office",
        "I am currently out of the office with limited access to email. I will respond as soon as possible.", nil),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Automatic reply: Meeting on 9 December",
        "I'm out of the office and will get back to you as soon as I can.", nil),
    a(
        .en, wed2, "America/Chicago", "Vacation", "Hi, I'm on vacation through Friday, December 11. I'll be back Monday.\n\nBest,\nKim",
        "2026-12-14"),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Out of office",
        "<p>Hello,</p><p>I am out of the office until <b>Monday, 14 December 2026</b>.</p><p>Kind regards,<br>Tom</p>", "2026-12-14",
        html: true),
    a(
        .en, wed2, "America/Los_Angeles", "OOO",
        "I will be out of the office starting Monday, December 7 and returning Monday, December 14.", "2026-12-14"),
    a(
        .en, "Thu, 03 Dec 2026 10:00:00 +0000", "Europe/London", "Automatic reply: Re: Call",
        "I'm away until 14 December.\n\nOn Wed, 2 Dec 2026 at 10:00, Sam <sam@nudge.example> wrote:\n> Could we talk on 10 December?\n> Sam",
        "2026-12-14"),
    // German
    a(
        .de, thu3, "Europe/Berlin", "Abwesenheitsnotiz",
        "Vielen Dank für Ihre Nachricht. Ich bin vom 7. bis 11. Dezember nicht im Büro. Ab dem 14. Dezember bin ich wieder erreichbar.",
        "2026-12-14"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Ich bin bis einschließlich 9.12. im Urlaub.", "2026-12-10"),
    a(
        .de, thu3, "Europe/Berlin", "Automatische Antwort",
        "Guten Tag,\nich bin bis zum 14.12. abwesend und habe keinen Zugriff auf meine E-Mails.", "2026-12-14"),
    a(.de, thu3, "Europe/Berlin", "Abwesenheitsnotiz", "Ich bin ab Montag, 14.12.2026 wieder im Büro.", "2026-12-14"),
    a(.de, thu3, "Europe/Berlin", "Abwesenheitsnotiz", "Ich bin derzeit nicht im Büro. Ihre Nachricht wird nicht weitergeleitet.", nil),
    a(
        .de, thu3, "Europe/Berlin", "Abwesenheitsnotiz: bis 11.12.",
        "Ich bin nicht im Büro. In dringenden Fällen wenden Sie sich bitte an info@firma.de.", "2026-12-11"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Ich bin am Freitag, 11.12. ganztägig nicht erreichbar.", "2026-12-14"),
    a(.de, thu3, "Europe/Vienna", "Urlaub", "Ich bin bis 9. Dezember einschließlich im Urlaub.", "2026-12-10"),
    a(.de, mon7, "Europe/Berlin", "Abwesenheit", "Ich bin in den nächsten zwei Wochen nicht erreichbar.", "2026-12-21"),
    a(.de, thu3, "Europe/Zurich", "Abwesenheit", "Ich bin bis Mittwoch, den 9. Dezember 2026, ausser Haus.", "2026-12-09"),
    a(
        .de, thu17, "Europe/Berlin", "Weihnachtsurlaub",
        "Liebe Kundinnen und Kunden,\nvom 24.12. bis 6.1. bin ich im Urlaub. Ihre E-Mail wird nicht weitergeleitet.", "2027-01-07"),
    // French
    a(
        .fr, thu3, "Europe/Paris", "Absence",
        "Bonjour,\nJe suis absent du 7 au 11 décembre inclus. Je traiterai votre message à mon retour.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Réponse automatique", "Je serai de retour le lundi 14 décembre.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Absence", "Je suis en congés jusqu'au 9 décembre inclus.", "2026-12-10"),
    a(.fr, thu3, "Europe/Paris", "Absence", "Je suis absente jusqu’au 9/12.", "2026-12-09"),
    a(
        .fr, thu3, "Europe/Paris", "Réponse automatique", "Je suis actuellement en déplacement, avec un accès limité à mes e-mails.",
        nil),
    a(.fr, mon7, "Europe/Paris", "Absence", "Je serai de retour dans deux semaines.", "2026-12-21"),
    a(
        .fr, thu3, "Europe/Brussels", "Congés",
        "Bonjour, je suis en vacances jusqu'au vendredi 11 décembre inclus et reviendrai le lundi 14.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Absence", "En congé maternité, je serai de retour le 4 janvier 2027.", "2027-01-04"),
    a(.fr, thu3, "Europe/Paris", "Absence", "Je suis absent jusqu'à lundi prochain.", "2026-12-07"),
    a(.fr, thu3, "Europe/Paris", "Réponse automatique : absent jusqu'au 14/12", "Merci pour votre message.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Absence", "Je suis absent à partir du 7 décembre.", nil),
    // Spanish
    a(
        .es, thu3, "Europe/Madrid", "Fuera de la oficina",
        "Estoy fuera de la oficina del 7 al 11 de diciembre. Para asuntos urgentes, contacte con ventas@empresa.es.", "2026-12-14"),
    a(.es, thu3, "Europe/Madrid", "Respuesta automática", "Estaré de vuelta el lunes 14 de diciembre.", "2026-12-14"),
    a(.es, thu3, "Europe/Madrid", "Vacaciones", "Estoy de vacaciones hasta el 9 de diciembre inclusive.", "2026-12-10"),
    a(.es, thu3, "Europe/Madrid", "Fuera de la oficina", "Estoy fuera hasta el 14/12/2026.", "2026-12-14"),
    a(.es, thu3, "Europe/Madrid", "Respuesta automática", "Me encuentro fuera de la oficina con acceso limitado al correo.", nil),
    a(.es, thu17, "Europe/Madrid", "Vacaciones", "Regreso el 4 de enero.", "2027-01-04"),
    a(.es, thu3, "Atlantic/Canary", "Ausente", "Estaré fuera hasta el miércoles 9 de diciembre, incluido.", "2026-12-10"),
    a(.es, mon7, "Europe/Madrid", "Ausente", "Volveré en dos semanas.", "2026-12-21"),
    a(.es, thu3, "Europe/Madrid", "Ausente", "Estoy de viaje hasta el próximo lunes.", "2026-12-07"),
    a(
        .es, thu3, "Europe/Madrid", "Respuesta automática: Fuera de la oficina hasta el 11/12",
        "Gracias por su mensaje. Responderé a mi regreso.", "2026-12-11"),
    // Italian
    a(.it, thu3, "Europe/Rome", "Fuori ufficio", "Sono fuori ufficio dal 7 all'11 dicembre.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Risposta automatica", "Rientrerò in ufficio lunedì 14 dicembre.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Assenza", "Sarò assente fino al 9 dicembre compreso.", "2026-12-10"),
    a(.it, thu3, "Europe/Rome", "Ferie", "Sono in ferie fino al 14/12.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Risposta automatica", "Sono attualmente fuori sede e risponderò appena possibile.", nil),
    a(.it, thu3, "Europe/Rome", "Assenza", "Sarò di ritorno il 4 gennaio 2027.", "2027-01-04"),
    a(.it, thu3, "Europe/Rome", "Ferie", "Sarò in ferie fino a venerdì 11 dicembre incluso.", "2026-12-14"),
    a(.it, mon7, "Europe/Rome", "Assenza", "Tornerò tra due settimane.", "2026-12-21"),
    a(.it, thu3, "Europe/Rome", "Assenza", "Sarò assente fino a lunedì.", "2026-12-07"),
    a(
        .it, thu17, "Europe/Rome", "Ferie",
        "<div>Grazie per la sua email.</div><div>Sono in ferie dal 24 dicembre al 6 gennaio.</div>", "2027-01-07", html: true),
    // Dutch
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben afwezig van 7 tot en met 11 december.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Automatisch antwoord", "Ik ben weer aanwezig op maandag 14 december.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben tot en met woensdag 9 december afwezig.", "2026-12-10"),
    a(.nl, thu3, "Europe/Brussels", "Afwezig", "Ik ben tot 14-12-2026 niet op kantoor.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Automatisch antwoord", "Ik ben momenteel niet op kantoor en lees mijn e-mail beperkt.", nil),
    a(.nl, thu17, "Europe/Amsterdam", "Vakantie", "Vanaf 4 januari ben ik weer bereikbaar.", "2027-01-04"),
    a(.nl, thu3, "Europe/Amsterdam", "Vakantie", "Ik ben met vakantie t/m 11 december.", "2026-12-14"),
    a(.nl, mon7, "Europe/Amsterdam", "Afwezig", "Ik ben over twee weken terug.", "2026-12-21"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben tot maandag afwezig.", "2026-12-07"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig: tot 9/12", "Bedankt voor uw bericht.", "2026-12-09"),
    // Portuguese
    a(.pt, thu3, "Europe/Lisbon", "Ausência", "Estou fora do escritório de 7 a 11 de dezembro.", "2026-12-14"),
    a(.pt, thu3, "Europe/Lisbon", "Resposta automática", "Estarei de volta na segunda-feira, 14 de dezembro.", "2026-12-14"),
    a(.pt, thu3, "Europe/Lisbon", "Férias", "Estou de férias até 9 de dezembro, inclusive.", "2026-12-10"),
    a(.pt, thu3, "America/Sao_Paulo", "Ausente", "Estou ausente até 14/12/2026.", "2026-12-14"),
    a(.pt, thu3, "Europe/Lisbon", "Resposta automática", "No momento estou fora do escritório com acesso limitado ao e-mail.", nil),
    a(.pt, thu17, "America/Sao_Paulo", "Férias", "Retorno no dia 4 de janeiro.", "2027-01-04"),
    a(.pt, thu3, "Europe/Lisbon", "Ausência", "Estarei ausente até sexta-feira, 11 de dezembro, inclusive.", "2026-12-14"),
    a(.pt, mon7, "America/Sao_Paulo", "Ausente", "Volto daqui a duas semanas.", "2026-12-21"),
    a(.pt, thu3, "Europe/Lisbon", "Ausente", "Estou em viagem até a próxima segunda-feira.", "2026-12-07"),
    a(
        .pt, thu3, "America/Sao_Paulo", "Fora do escritório", "Estarei fora do escritório entre 7 e 11 de dezembro. Retorno dia 14.",
        "2026-12-14"),
    // Swedish
    a(.sv, thu3, "Europe/Stockholm", "Frånvaro", "Jag är ledig 7–11 december.", "2026-12-14"),
    a(.sv, thu3, "Europe/Stockholm", "Autosvar", "Jag är tillbaka måndag 14 december.", "2026-12-14"),
    a(.sv, thu3, "Europe/Stockholm", "Semester", "Jag är på semester till och med 9 december.", "2026-12-10"),
    a(.sv, thu3, "Europe/Stockholm", "Frånvaro", "Jag är borta till 14/12.", "2026-12-14"),
    a(
        .sv, thu3, "Europe/Stockholm", "Autosvar",
        "Jag är för närvarande inte på kontoret och har begränsad tillgång till e-post.", nil),
    a(.sv, thu17, "Europe/Stockholm", "Semester", "Jag är åter på kontoret den 4 januari.", "2027-01-04"),
    a(.sv, thu3, "Europe/Stockholm", "Tjänstledig", "Jag är tjänstledig t.o.m. fredag 11 december.", "2026-12-14"),
    a(.sv, mon7, "Europe/Stockholm", "Frånvaro", "Jag är tillbaka om två veckor.", "2026-12-21"),
    a(.sv, thu3, "Europe/Stockholm", "Frånvaro", "Jag är på resa till måndag.", "2026-12-07"),
    a(.sv, thu3, "Europe/Stockholm", "Frånvaro", "Jag är frånvarande till och med 2026-12-11.", "2026-12-14"),
    // Second batch, written after the rules above
    a(.en, wed2, "America/New_York", "OOO", "I am out of the office Dec 7 - Dec 11 and will return Dec 14.", "2026-12-14"),
    a(.en, wed2, "America/New_York", "Out of office", "I'm out of the office Friday, returning Monday.", "2026-12-07"),
    a(
        .en, thu17, "Europe/London", "Annual leave", "Please note I am on leave from 21 December 2026 to 4 January 2027 inclusive.",
        "2027-01-05"),
    a(.en, thu17, "Europe/London", "Away", "Out for the holidays. I'll be back on Jan 4th.", "2027-01-04"),
    a(
        .de, thu17, "Europe/Berlin", "Urlaub",
        "Ich bin vom 21.12.2026 bis einschließlich 01.01.2027 im Urlaub. Ab dem 04.01.2027 bin ich wieder für Sie da.", "2027-01-04"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Ich bin am 10. und 11. Dezember nicht im Büro.", "2026-12-14"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Bis Ende nächster Woche bin ich nicht erreichbar.", "2026-12-14"),
    a(
        .fr, thu17, "Europe/Paris", "Congés", "Je suis en congés du lundi 21 décembre au vendredi 1er janvier inclus.", "2027-01-04"),
    a(.fr, thu3, "Europe/Paris", "Absent", "Absent jusqu'au 14 décembre, je vous répondrai dès mon retour.", "2026-12-14"),
    a(.fr, thu17, "Europe/Paris", "Absence", "Je reprends le travail le 4 janvier.", "2027-01-04"),
    a(.es, thu17, "Europe/Madrid", "Vacaciones", "Estaré ausente del 21 de diciembre al 1 de enero, ambos inclusive.", "2027-01-04"),
    a(.es, thu3, "Europe/Madrid", "Baja", "Estoy de baja hasta nuevo aviso.", nil),
    a(.es, thu3, "Europe/Madrid", "Ausente", "Me reincorporo el lunes 14 de diciembre.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Fuori sede", "Sarò fuori sede dal 9 all'11 dicembre, con accesso limitato alla posta.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Assenza", "Sono in malattia fino a nuovo avviso.", nil),
    a(.it, thu3, "Europe/Rome", "Assenza", "Rientro in ufficio il 14/12.", "2026-12-14"),
    a(.nl, thu17, "Europe/Amsterdam", "Vakantie", "Van 21 december t/m 1 januari ben ik met vakantie.", "2027-01-04"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben vanaf maandag 14 december weer op kantoor.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Verlof", "Ik ben met ouderschapsverlof. Mijn collega Piet helpt u graag.", nil),
    a(.pt, thu17, "America/Sao_Paulo", "Férias", "Estarei de férias de 21/12 a 01/01.", "2027-01-04"),
    a(.pt, thu3, "Europe/Lisbon", "Licença", "Estou em licença até 11/12 (inclusive).", "2026-12-14"),
    a(.pt, thu3, "America/Sao_Paulo", "Ausente", "Volto no dia 14.", "2026-12-14"),
    a(.sv, thu17, "Europe/Stockholm", "Semester", "Jag har semester v. 52–53 och är tillbaka 4 januari.", "2027-01-04"),
    a(.sv, thu17, "Europe/Stockholm", "Ledig", "Jag är ledig 21/12–1/1.", "2027-01-04"),
    a(.sv, thu3, "Europe/Stockholm", "Sjukskriven", "Jag är sjukskriven tills vidare.", nil),
    // Third batch: full notices with phone numbers, addresses, opening hours and footers
    a(
        .en, "Thu, 03 Dec 2026 09:00:00 +0000", "Europe/London", "Out of Office: Renewal",
        "Hello,\n\nThank you for your email. I am out of the office from Monday 7 December until Friday 11 December inclusive, with no access to email.\n\nIf your matter is urgent, please call our office on +44 (0)20 7946 0958 (Mon–Fri, 9:00–17:30).\n\nKind regards,\nSarah Jones\nAccount Manager\nAcme Ltd, 10 Downing Road, London SW1A 2AA",
        "2026-12-14"),
    a(
        .de, thu3, "Europe/Berlin", "Abwesenheitsnotiz: Ihr Angebot",
        "Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihre E-Mail. Ich bin bis einschließlich Freitag, 11.12.2026 nicht im Büro. Ihre Nachricht wird nicht weitergeleitet. In dringenden Fällen wenden Sie sich bitte an meine Kollegin Frau Petra Schmidt (Tel. 089 / 123 45-67, petra.schmidt@firma.de).\n\nMit freundlichen Grüßen\nThomas Müller\n\nFirma GmbH | Hauptstraße 12 | 80331 München\nGeschäftsführer: Dr. Hans Meier | Amtsgericht München HRB 123456",
        "2026-12-14"),
    a(
        .fr, thu17, "Europe/Paris", "Fermeture annuelle",
        "Bonjour,\nNos bureaux seront fermés du 24 décembre 2026 au 3 janvier 2027 inclus. Nous traiterons votre demande dès le lundi 4 janvier.\nBonnes fêtes !\nL'équipe",
        "2027-01-04"),
    a(
        .es, thu3, "Europe/Madrid", "Fuera de la oficina",
        "Hola:\nEstaré fuera de la oficina hasta el 9/12 sin acceso al correo. Si es urgente, llame al 91 123 45 67 o escriba a soporte@empresa.es.\nUn saludo,\nJavier",
        "2026-12-09"),
    a(
        .it, thu3, "Europe/Rome", "Chiusura per ferie",
        "Gentile cliente,\nl'ufficio resterà chiuso per ferie dal 7 all'11 dicembre 2026 compresi. Riapriremo lunedì 14 dicembre.\nCordiali saluti",
        "2026-12-14"),
    a(
        .nl, thu3, "Europe/Amsterdam", "Afwezigheid",
        "Beste relatie,\n\nIn verband met vakantie ben ik afwezig tot en met vrijdag 11 december. Vanaf maandag 14 december ben ik weer bereikbaar via 020-1234567.\n\nMet vriendelijke groet,\nPieter",
        "2026-12-14"),
    a(
        .pt, thu3, "America/Sao_Paulo", "Férias",
        "Prezado(a),\nEstarei em férias entre os dias 07/12 e 11/12, retornando em 14/12. Para assuntos urgentes, contate maria@empresa.com.br ou (11) 3456-7890.\nAtt.,\nJoão",
        "2026-12-14"),
    a(
        .sv, thu3, "Europe/Stockholm", "Tjänsteresa",
        "Hej!\nJag är på tjänsteresa till och med onsdag 9/12 och har begränsad möjlighet att läsa e-post. Brådskande ärenden: ring växeln 08-123 456 78.\nMvh\nAnna",
        "2026-12-10"),
    a(
        .en, wed2, "America/New_York", "PTO",
        "I'm currently out on PTO and returning Tuesday 12/15. I will have no access to email or Slack. For anything urgent, reach out to ops@acme.com.",
        "2026-12-15"),
    a(
        .en, thu17, "Europe/London", "Holiday closure",
        "Thank you for your message. Please note that our offices will be closed for the holidays from 24 December to 1 January. We will respond to your email when we reopen on 4 January.",
        "2027-01-04"),
    a(.de, thu3, "Europe/Berlin", "Urlaub", "Ich bin ab dem 7.12. im Urlaub und ab dem 14.12. wieder im Büro.", "2026-12-14"),
    a(
        .en, thu3, "Europe/London", "Conference",
        "I am attending a conference in Berlin (8–10 December) and will reply when I'm back.", "2026-12-11"),
    a(
        .en, thu3, "Europe/London", "Out of office",
        "I'm out of the office today with limited access to email. Your message dated 2 December has been received.", "2026-12-04"),
    // Fourth batch, written before running it
    a(.en, thu3, "Europe/London", "OOO until Dec 14", "Out of office until Dec 14.", "2026-12-14"),
    a(
        .en, "Thu, 03 Dec 2026 08:00:00 -0500", "America/New_York", "OOO", "I'm out Monday the 7th through Wednesday the 9th, back Thursday.",
        "2026-12-10"),
    a(.de, thu3, "Europe/Berlin", "Urlaub", "Ich bin in KW 50 im Urlaub und ab dem 14.12. wieder erreichbar.", "2026-12-14"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Bis einschl. 11.12. bin ich abwesend.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Absence", "Je serai absent jusqu'au 11/12 inclus et de retour le 14/12.", "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Absence", "De retour au bureau le mardi 15 décembre.", "2026-12-15"),
    a(.es, thu3, "Europe/Madrid", "Fuera", "Estaré fuera del lunes 7 al viernes 11 de diciembre.", "2026-12-14"),
    a(.es, thu3, "Europe/Madrid", "Fuera", "Vuelvo a la oficina el 14.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Ferie", "Sarò in ferie fino all'11 dicembre incluso.", "2026-12-14"),
    a(.it, thu3, "Europe/Rome", "Assenza", "Rientro previsto: 14/12/2026.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben vanaf 14/12 weer op kantoor.", "2026-12-14"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Afwezig tot di 15 december.", "2026-12-15"),
    a(.pt, thu3, "Europe/Lisbon", "Ausente", "Estarei ausente até ao dia 11 de dezembro (inclusive).", "2026-12-14"),
    a(.pt, thu3, "America/Sao_Paulo", "Ausente", "Retornarei às atividades em 14/12.", "2026-12-14"),
    a(.sv, thu3, "Europe/Stockholm", "Frånvaro", "Jag återkommer måndag 14/12.", "2026-12-14"),
    a(.sv, thu17, "Europe/Stockholm", "Stängt", "Kontoret är stängt 24/12–6/1.", "2027-01-07"),
    // Fifth batch, written before running it: other dates in the same notice
    a(
        .en, thu3, "Europe/London", "Out of office",
        "I'm out of the office until 9 December. Note: our office will be closed on 24 and 25 December.", "2026-12-09"),
    a(.en, thu3, "Europe/London", "Leave", "I'm on leave until 14 December. Your request from 1 December has been logged as #4521.", "2026-12-14"),
    a(
        .de, thu3, "Europe/Berlin", "Dienstreise",
        "Ich bin bis 11.12. auf Dienstreise. Ab dem 14.12. bin ich wieder im Büro. Bitte beachten Sie unsere Betriebsferien vom 24.12. bis 1.1.",
        "2026-12-14"),
    a(.fr, thu3, "Europe/Paris", "Formation", "Je suis en formation jusqu'au 10 décembre. Notre salon aura lieu du 15 au 17 mars.", "2026-12-10"),
    a(.es, thu3, "Europe/Madrid", "Vacaciones", "Estoy de vacaciones. Vuelvo el lunes.", "2026-12-07"),
    a(.it, thu3, "Europe/Rome", "Trasferta", "Sono in trasferta questa settimana, rientro lunedì 7.", "2026-12-07"),
    a(.nl, thu3, "Europe/Amsterdam", "Afwezig", "Ik ben deze week afwezig en vanaf maandag weer bereikbaar.", "2026-12-07"),
    a(.pt, thu3, "Europe/Lisbon", "Licença", "Estou de licença médica até 18/12 e retorno no dia 21/12.", "2026-12-21"),
    a(.sv, thu3, "Europe/Stockholm", "Ledig", "Jag är ledig resten av veckan och tillbaka på måndag.", "2026-12-07"),
    a(
        .en, "Thu, 03 Dec 2026 07:00:00 -0500", "America/New_York", "OOO",
        "Out of office Thursday 12/3 and Friday 12/4. Returning Monday 12/7.", "2026-12-07"),
    a(.de, thu3, "Europe/Berlin", "Abwesend", "Vielen Dank für Ihre Nachricht vom 2. Dezember. Ich bin derzeit nicht im Büro.", nil),
    a(
        .en, thu3, "Europe/London", "Away", "Thanks for your email of 2 December. I'm out of the office and will reply next week.",
        "2026-12-07"),
    // Sixth batch, written before running it and kept as first scored (held out from tuning)
    a(
        .en, thu17, "Europe/London", "Vacation", "I'm currently on vacation and will return to the office on Tuesday, January 5th.",
        "2027-01-05"),
    a(.en, thu17, "Europe/London", "Away", "Away until the 2nd of January with no email access.", "2027-01-04"),
    a(.de, thu17, "Europe/Berlin", "Weihnachtsurlaub", "Ich befinde mich bis zum 08. Januar 2027 im Weihnachtsurlaub.", "2027-01-08"),
    a(.de, thu17, "Europe/Berlin", "Abwesend", "Ab Montag, den 11. Januar, bin ich wieder für Sie erreichbar.", "2027-01-11"),
    a(.fr, thu17, "Europe/Paris", "Absence", "Je suis absent(e) jusqu'au mercredi 6 janvier 2027 inclus.", "2027-01-07"),
    a(.fr, thu17, "Europe/Paris", "Absence", "Je serai de retour parmi vous le 11 janvier.", "2027-01-11"),
    a(
        .es, thu17, "Europe/Madrid", "Vacaciones", "Me encuentro de vacaciones hasta el 7 de enero; a mi vuelta responderé su mensaje.",
        "2027-01-07"),
    a(
        .es, thu17, "Europe/Madrid", "Fuera", "Estaré fuera de la oficina entre el 21 de diciembre y el 6 de enero, ambos incluidos.",
        "2027-01-07"),
    a(.it, thu17, "Europe/Rome", "Ferie", "Sarò assente per ferie fino al 6 gennaio 2027 incluso.", "2027-01-07"),
    a(.it, thu17, "Europe/Rome", "Chiusura", "L'ufficio riaprirà il 7 gennaio.", "2027-01-07"),
    a(.nl, thu17, "Europe/Amsterdam", "Afwezig", "Tot en met 3 januari ben ik niet aanwezig.", "2027-01-04"),
    a(.nl, thu17, "Europe/Amsterdam", "Afwezig", "Ik ben op 7 januari weer terug op kantoor.", "2027-01-07"),
    a(.pt, thu17, "Europe/Lisbon", "Férias", "Estarei em férias até dia 08/01/2027.", "2027-01-08"),
    a(.pt, thu17, "America/Sao_Paulo", "Ausente", "Retornarei no dia 11 de janeiro.", "2027-01-11"),
    a(.sv, thu17, "Europe/Stockholm", "Julledigt", "Jag har julledigt till och med 6 januari.", "2027-01-07"),
    a(.sv, thu17, "Europe/Stockholm", "Frånvaro", "Jag är tillbaka på kontoret den 11/1.", "2027-01-11"),
]
