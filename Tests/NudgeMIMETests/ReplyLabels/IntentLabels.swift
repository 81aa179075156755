@testable import NudgeMIME

/// A person's reply (full text as received: quoted history and signature included) with its intent.
struct IntentLabel {
    var language: ReplyLanguage
    var text: String
    var kind: ReplyIntent.Kind
    /// For referrals: the referred addresses and, where the reply gives them, names.
    var emails: [String] = []
    var names: [String] = []
    /// The reply asks not to be contacted again: every `unsubscribe_request`, and a referral or
    /// absence notice that asks it too.
    var unsubscribe: Bool
    /// Sent as an automatic reply (`Auto-Submitted: auto-replied`).
    var auto = false
}

private func i(
    _ l: ReplyLanguage, _ kind: ReplyIntent.Kind, _ text: String, emails: [String] = [], names: [String] = [], unsubscribe: Bool? = nil,
    auto: Bool = false
) -> IntentLabel {
    IntentLabel(
        language: l, text: text, kind: kind, emails: emails, names: names, unsubscribe: unsubscribe ?? (kind == .unsubscribeRequest), auto: auto)
}

private let quoted =
    "\n\nOn Tue, 1 Dec 2026 at 09:00, Sam Carter <sam@nudge.example> wrote:\n> Hi, quick follow-up on my note below.\n> Reply STOP or click here to unsubscribe.\n"

let intentLabels: [IntentLabel] = [
    // Unsubscribe requests
    i(.en, .unsubscribeRequest, "Please remove me from your mailing list." + quoted),
    i(.en, .unsubscribeRequest, "Unsubscribe"),
    i(.en, .unsubscribeRequest, "Hi Sam,\n\nStop emailing me. I never signed up for this.\n\nJ."),
    i(.en, .unsubscribeRequest, "Not interested. Take me off your list please.\n\nSent from my iPhone"),
    i(.en, .unsubscribeRequest, "Can you please unsubscribe me? Thanks." + quoted),
    i(.de, .unsubscribeRequest, "Bitte keine weiteren E-Mails.\n\nMit freundlichen Grüßen\nK. Braun"),
    i(.de, .unsubscribeRequest, "Guten Tag,\nbitte tragen Sie mich aus Ihrem Verteiler aus.\nDanke"),
    i(.fr, .unsubscribeRequest, "Bonjour,\nMerci de me retirer de votre liste de diffusion.\nCordialement,\nPaul"),
    i(.fr, .unsubscribeRequest, "Merci de ne plus me contacter."),
    i(.es, .unsubscribeRequest, "Por favor, no me envíen más correos."),
    i(.es, .unsubscribeRequest, "Hola, quiero darme de baja de esta lista. Gracias."),
    i(.it, .unsubscribeRequest, "Buongiorno, vi prego di cancellarmi dalla vostra lista.\nGrazie"),
    i(.nl, .unsubscribeRequest, "Graag uitschrijven, ik wil geen e-mails meer ontvangen."),
    i(.pt, .unsubscribeRequest, "Por favor, me removam da lista. Não quero receber mais e-mails."),
    i(.sv, .unsubscribeRequest, "Hej, ta bort mig från er lista.\n\nMed vänliga hälsningar\nErik"),
    // Referrals
    i(
        .en, .referral, "Hi,\n\nI've left the company, please write to maria@acme.com from now on.\n\nBest,\nTom" + quoted,
        emails: ["maria@acme.com"]),
    i(
        .en, .referral, "Thanks for reaching out. Maria Lopez (maria.lopez@acme.com) handles this now, I've copied her here.",
        emails: ["maria.lopez@acme.com"], names: ["Maria Lopez"]),
    i(.en, .referral, "I'm not the right person for this. Please contact my colleague Priya Shah.", names: ["Priya Shah"]),
    i(
        .de, .referral, "Hallo,\nfür dieses Thema ist Frau Anna Weber zuständig: anna.weber@firma.de\nViele Grüße",
        emails: ["anna.weber@firma.de"], names: ["Anna Weber"]),
    i(
        .fr, .referral, "Bonjour,\nJe ne fais plus partie de l'entreprise. Merci de contacter Julie Martin <julie.martin@societe.fr>.",
        emails: ["julie.martin@societe.fr"], names: ["Julie Martin"]),
    i(
        .es, .referral, "Hola, ya no trabajo en la empresa. Escriba a Carlos Ruiz en carlos.ruiz@empresa.es, por favor.",
        emails: ["carlos.ruiz@empresa.es"], names: ["Carlos Ruiz"]),
    i(.it, .referral, "Buongiorno, se ne occupa il mio collega: marco.rossi@azienda.it", emails: ["marco.rossi@azienda.it"]),
    i(
        .nl, .referral, "Ik werk hier niet meer. Neem contact op met Sanne de Vries (sanne@bedrijf.nl).", emails: ["sanne@bedrijf.nl"],
        names: ["Sanne de Vries"]),
    i(
        .pt, .referral, "Olá, quem cuida disso agora é a Ana Souza: ana.souza@empresa.com.br", emails: ["ana.souza@empresa.com.br"],
        names: ["Ana Souza"]),
    i(.sv, .referral, "Hej! Jag har slutat här, kontakta istället lisa@foretag.se.", emails: ["lisa@foretag.se"]),
    // Wrong person
    i(.en, .wrongPerson, "Hi Sam, I think you have the wrong person, I work in finance, not marketing."),
    i(.de, .wrongPerson, "Hallo, dafür bin ich leider nicht zuständig."),
    i(.fr, .wrongPerson, "Bonjour, je ne suis pas la bonne personne pour ce sujet."),
    // Not interested
    i(.en, .notInterested, "Thanks, but we're not interested at the moment." + quoted),
    i(.en, .notInterested, "No thanks, we already use a tool for this.\n\nBest regards,\nDana Smith\nCTO | Acme Inc.\n+1 555 0100"),
    i(.de, .notInterested, "Vielen Dank, aber wir haben kein Interesse."),
    i(.fr, .notInterested, "Non merci, ce n'est pas une priorité pour nous."),
    i(.es, .notInterested, "Gracias, pero no nos interesa."),
    i(.it, .notInterested, "Grazie, ma non siamo interessati."),
    i(.nl, .notInterested, "Bedankt, maar we hebben geen interesse."),
    i(.pt, .notInterested, "Obrigado, mas não temos interesse no momento."),
    i(.sv, .notInterested, "Tack, men vi är inte intresserade just nu."),
    // Meeting requests
    i(.en, .meetingRequest, "Sounds interesting. Can we schedule a call next week? Tuesday afternoon works for me." + quoted),
    i(.en, .meetingRequest, "Happy to chat. Are you free on Thursday at 3pm?\n\nSent from my iPhone"),
    i(.de, .meetingRequest, "Klingt spannend. Können wir nächste Woche einen Termin vereinbaren?"),
    i(.fr, .meetingRequest, "Bonjour, êtes-vous disponible jeudi pour un appel ?"),
    i(.es, .meetingRequest, "Me interesa. ¿Podemos agendar una reunión el martes?"),
    i(.it, .meetingRequest, "Interessante, possiamo fissare una chiamata la prossima settimana?"),
    i(.nl, .meetingRequest, "Leuk, zullen we een afspraak inplannen voor volgende week?"),
    i(.pt, .meetingRequest, "Podemos marcar uma reunião na quinta-feira?"),
    i(.sv, .meetingRequest, "Intressant! Kan vi boka ett möte nästa vecka?"),
    // Interested
    i(.en, .interested, "This sounds great, please send me more information." + quoted),
    i(.en, .interested, "Please don't remove me from the list, I'm still interested, just busy this month."),
    i(.de, .interested, "Das klingt gut, schicken Sie mir gerne mehr Informationen."),
    i(.fr, .interested, "Bonjour, cela m'intéresse, pouvez-vous m'en dire plus ?"),
    i(.es, .interested, "Suena bien, me gustaría recibir más información."),
    i(.it, .interested, "Mi interessa, mandatemi maggiori informazioni."),
    i(.nl, .interested, "Klinkt interessant, stuur me gerust meer informatie."),
    i(.pt, .interested, "Parece interessante, pode me enviar mais informações?"),
    i(.sv, .interested, "Låter intressant, skicka gärna mer information."),
    i(.en, .interested, "Sorry for the slow reply, I was on vacation last week. Yes, we're interested!"),
    // Questions (some about unsubscribing: not requests)
    i(.en, .question, "I can't unsubscribe from the newsletter myself, can you help?"),
    i(.en, .question, "How does unsubscribing work? Will I still get invoices if I unsubscribe?"),
    i(.en, .question, "What does the pricing look like for a team of 20?"),
    i(.de, .question, "Wie funktioniert die Abmeldung? Bekomme ich danach noch Rechnungen?"),
    i(.fr, .question, "Quel est le prix pour une équipe de dix personnes ?"),
    i(.es, .question, "¿Cómo puedo darme de baja si cambio de opinión más adelante?"),
    // Other
    i(.en, .other, "Thanks for the note, noted."),
    i(.de, .other, "Danke für die Info.\n\nViele Grüße\nJan"),
    // Out of office written by hand
    i(.en, .outOfOffice, "I'm out of the office until Monday with limited access to email."),
    // Second batch, written after the rules above
    i(.en, .unsubscribeRequest, "Please take my email off your list."),
    i(.en, .question, "Can you stop sending the invoices as PDF and use the portal instead?"),
    i(.en, .interested, "We unsubscribed from your newsletter last year, but we're interested in the product now."),
    i(.de, .unsubscribeRequest, "Bitte nehmen Sie mich aus dem Verteiler."),
    i(.de, .other, "Ich möchte mich nicht abmelden, nur meine Adresse ändern."),
    i(.fr, .unsubscribeRequest, "Veuillez me désinscrire."),
    i(.es, .unsubscribeRequest, "¿Me pueden quitar de la lista de correo?"),
    i(.it, .unsubscribeRequest, "Non scrivetemi più, grazie."),
    i(.nl, .unsubscribeRequest, "Wilt u mij van uw mailinglijst verwijderen?"),
    i(.pt, .unsubscribeRequest, "Parem de me enviar e-mails, por favor."),
    i(.sv, .unsubscribeRequest, "Sluta mejla mig."),
    i(
        .en, .referral, "Please reach out to our procurement lead, John Park <john.park@acme.com>.", emails: ["john.park@acme.com"],
        names: ["John Park"]),
    i(.sv, .notInterested, "Nej tack."),
    i(.en, .meetingRequest, "Let's set up a 30-minute call on Monday."),
    // Third batch: longer replies with footers, and near misses
    i(
        .en, .question,
        "Hi Sam,\n\nThanks for following up. We're reviewing vendors in Q1, could you send pricing for 50 seats?\n\nBest,\nAnn\n\nThis email is confidential. If you received it in error, please notify the sender and delete it. To stop receiving marketing emails from Acme, unsubscribe here."
            + quoted),
    i(.en, .interested, "Please remove John from the thread, he's no longer involved. I'm still interested though."),
    i(.en, .other, "I don't want to stop hearing from you, just send fewer emails please."),
    i(.de, .notInterested, "Wir haben aktuell keinen Bedarf, melden uns aber gerne im Frühjahr."),
    i(.fr, .meetingRequest, "Pourriez-vous m'appeler demain matin au 06 12 34 56 78 ?"),
    i(.es, .other, "Gracias, lo hablo con mi jefe y le digo algo."),
    i(.it, .unsubscribeRequest, "Non sono interessato, e per favore non contattatemi più."),
    i(.nl, .meetingRequest, "Kunt u mij volgende week bellen?"),
    i(
        .pt, .referral, "Vou encaminhar para o responsável, João Lima (joao.lima@empresa.com.br).", emails: ["joao.lima@empresa.com.br"],
        names: ["João Lima"]),
    i(.sv, .question, "Hur mycket kostar det per användare?"),
    i(.en, .question, "Who else uses this? Any case studies in fintech?"),
    i(.en, .interested, "Yes! Let's do it. What are the next steps?"),
    i(.en, .other, "Unsubscribing is not what I want, I just need the invoice resent."),
    i(.de, .other, "Bitte nicht mehr anrufen, E-Mail ist ok."),
    // Fourth batch, written before running it
    i(.en, .notInterested, "We've decided to go with another vendor."),
    i(.en, .unsubscribeRequest, "Please stop contacting me."),
    i(.de, .meetingRequest, "Passt Ihnen Dienstag um 10 Uhr für ein kurzes Gespräch?"),
    i(.de, .referral, "Ich habe das Unternehmen verlassen. Bitte wenden Sie sich an j.koch@firma.de.", emails: ["j.koch@firma.de"]),
    i(.fr, .unsubscribeRequest, "Je ne souhaite plus recevoir vos emails."),
    i(.fr, .interested, "Oui, intéressé. Envoyez-moi une brochure."),
    i(.es, .wrongPerson, "Creo que no soy la persona indicada para esto."),
    i(.es, .question, "¿Cuánto cuesta la licencia anual?"),
    i(.it, .meetingRequest, "Possiamo sentirci domani alle 15?"),
    i(.it, .notInterested, "Al momento non ci interessa, grazie."),
    i(
        .nl, .referral, "Mijn collega Eva Jansen (eva.jansen@bedrijf.nl) gaat hierover.", emails: ["eva.jansen@bedrijf.nl"],
        names: ["Eva Jansen"]),
    i(.nl, .question, "Werkt dit ook met Outlook?"),
    i(.pt, .unsubscribeRequest, "Favor me descadastrar da lista."),
    i(.pt, .interested, "Tenho interesse, pode me mandar a proposta?"),
    i(
        .sv, .referral, "Det är Karin Berg som ansvarar för detta, karin.berg@foretag.se.", emails: ["karin.berg@foretag.se"],
        names: ["Karin Berg"]),
    i(.sv, .meetingRequest, "Kan vi ta ett samtal på torsdag?"),
    // Fifth batch, written before running it: near misses for unsubscribe requests
    i(.en, .other, "Don't email me on Friday, I'm off. Monday is fine."),
    i(.en, .other, "Please stop sending me the PDF version, the link is enough."),
    i(.en, .interested, "Unsubscribe? No way, I love your newsletter and I'm interested in the pro plan."),
    i(.en, .question, "I unsubscribed by mistake, can you add me back?"),
    i(.en, .other, "Please remove me from the invite for Thursday, Jane will attend instead."),
    i(.de, .other, "Bitte melden Sie sich, wenn Sie Fragen haben."),
    i(.de, .other, "Bitte schicken Sie mir keine PDF-Anhänge mehr, nur Links."),
    i(.fr, .other, "Merci de me retirer de la réunion de jeudi, je ne peux pas venir."),
    i(.es, .other, "No me envíe más el informe en PDF, solo el enlace."),
    i(.pt, .other, "Não me enviem mais o relatório por e-mail, usem o portal."),
    i(.it, .other, "Non inviatemi più il report in PDF, basta il link."),
    i(.en, .unsubscribeRequest, "Remove me from your list."),
    i(.en, .unsubscribeRequest, "Take me off your mailing list, thanks."),
    i(.es, .unsubscribeRequest, "No me envíen más correos, gracias."),
    // Sixth batch, written before running it: signing off from events is not unsubscribing
    i(.de, .other, "Ich muss mich leider vom Workshop am Dienstag abmelden."),
    i(.de, .question, "Können Sie mich für die Schulung austragen? Ich bin krank."),
    i(.nl, .other, "Ik moet me helaas afmelden voor het webinar van morgen."),
    i(.sv, .other, "Ta bort mig från mötet på fredag, Lars går istället."),
    i(.es, .other, "Por favor, denme de baja del evento del jueves, no podré asistir."),
    i(.de, .unsubscribeRequest, "Ich möchte mich von Ihrem Newsletter abmelden."),
    i(.nl, .unsubscribeRequest, "Ik wil me afmelden voor jullie nieuwsbrief."),
    // Seventh batch, written before running it: everyday wording
    i(.en, .interested, "Yes, happy to take a look. What's the best next step?"),
    i(
        .en, .referral, "Let me loop in our CTO, Raj Patel (raj@acme.io), who owns this.", emails: ["raj@acme.io"],
        names: ["Raj Patel"]),
    i(.de, .interested, "Gerne, schicken Sie mir bitte ein Angebot."),
    i(.de, .notInterested, "Aktuell nicht, vielleicht im nächsten Jahr."),
    i(.fr, .meetingRequest, "Avec plaisir, quand seriez-vous disponible pour en discuter ?"),
    i(.fr, .notInterested, "Pas intéressé pour l'instant, merci."),
    i(.es, .interested, "Sí, me encantaría saber más."),
    i(.es, .meetingRequest, "¿Podemos hablar por teléfono esta semana?"),
    i(.it, .interested, "Certo, mi mandi pure una proposta."),
    i(.it, .question, "Chi è il vostro referente per l'Italia?"),
    i(.nl, .interested, "Ja, graag meer info."),
    i(.nl, .notInterested, "Wij hebben al een leverancier, dank u."),
    i(.pt, .meetingRequest, "Pode me ligar amanhã às 10h?"),
    i(.pt, .question, "Quem seria a pessoa certa aí para falar sobre isso?"),
    i(.sv, .interested, "Ja, det vore intressant att veta mer."),
    i(.sv, .notInterested, "Vi har redan en leverantör."),
    // Eighth batch, written before running it and kept as first scored (held out from tuning)
    i(.en, .notInterested, "Not for us, sorry."),
    i(.en, .meetingRequest, "Could you jump on a quick Zoom tomorrow?"),
    i(.en, .interested, "Interesting timing, we were just discussing this. Tell me more."),
    i(.en, .question, "Who are your main customers in Germany?"),
    i(
        .de, .referral, "Bitte kontaktieren Sie stattdessen Herrn Markus Vogel, m.vogel@firma.de.", emails: ["m.vogel@firma.de"],
        names: ["Markus Vogel"]),
    i(.de, .notInterested, "Kein Bedarf, danke."),
    i(.fr, .referral, "Je transfère à ma collègue Sophie Bernard qui gère ce sujet.", names: ["Sophie Bernard"]),
    i(.fr, .interested, "Oui, pourquoi pas. Quels sont vos tarifs ?"),
    i(.es, .notInterested, "No gracias, no es prioritario."),
    i(.es, .meetingRequest, "Hablemos la semana que viene."),
    i(.it, .interested, "Mi piacerebbe capire meglio come funziona."),
    i(.it, .notInterested, "Non è il momento giusto per noi."),
    i(.nl, .meetingRequest, "Zullen we volgende week even bellen?"),
    i(.nl, .notInterested, "Nee, dank je."),
    i(.pt, .interested, "Tenho interesse, mas só no próximo trimestre."),
    i(.sv, .notInterested, "Tyvärr, det är inte aktuellt för oss."),
    // Ninth batch: a request to be removed with an absence or a hand-over in the same reply. A
    // person's request outranks the absence; the people a hand-over names stay a referral.
    i(.en, .unsubscribeRequest, "I'm on vacation this week. Please remove me from your list." + quoted),
    i(.de, .unsubscribeRequest, "Ich bin derzeit im Urlaub. Bitte tragen Sie mich aus Ihrem Verteiler aus.\n\nViele Grüße\nK. Braun"),
    i(.fr, .unsubscribeRequest, "Je suis en congés jusqu'au 14 décembre. Merci de me retirer de votre liste de diffusion."),
    i(.es, .unsubscribeRequest, "Estoy de vacaciones hasta el lunes. Por favor, no me envíen más correos."),
    i(.it, .unsubscribeRequest, "Sono in ferie fino al 10 gennaio. Vi prego di cancellarmi dalla vostra lista.\nGrazie"),
    i(.nl, .unsubscribeRequest, "Ik ben met vakantie tot maandag. Wilt u mij van uw mailinglijst verwijderen?"),
    i(.pt, .unsubscribeRequest, "Estou de férias até segunda. Por favor, me removam da lista."),
    i(.sv, .unsubscribeRequest, "Jag är på semester till måndag. Ta bort mig från er lista."),
    i(
        .en, .referral, "I've left the company, write to maria@acme.com, and take me off your list." + quoted, emails: ["maria@acme.com"],
        unsubscribe: true),
    i(
        .de, .referral, "Ich habe das Unternehmen verlassen. Bitte wenden Sie sich an j.koch@firma.de und tragen Sie mich aus Ihrem Verteiler aus.",
        emails: ["j.koch@firma.de"], unsubscribe: true),
    i(
        .fr, .referral, "Je ne fais plus partie de l'entreprise, contactez julie.martin@societe.fr. Merci de me retirer de votre liste.",
        emails: ["julie.martin@societe.fr"], unsubscribe: true),
    i(
        .es, .referral, "Ya no trabajo en la empresa. Escriba a carlos.ruiz@empresa.es y, por favor, denme de baja de su lista.",
        emails: ["carlos.ruiz@empresa.es"], unsubscribe: true),
    i(
        .it, .referral, "Non lavoro più qui, scrivete a marco.rossi@azienda.it e cancellatemi dalla lista.", emails: ["marco.rossi@azienda.it"],
        unsubscribe: true),
    i(
        .nl, .referral, "Ik werk hier niet meer, neem contact op met sanne@bedrijf.nl. Graag mij uitschrijven.", emails: ["sanne@bedrijf.nl"],
        unsubscribe: true),
    i(
        .pt, .referral, "Não trabalho mais aqui, escreva para ana.souza@empresa.com.br e me removam da lista.",
        emails: ["ana.souza@empresa.com.br"], unsubscribe: true),
    i(.sv, .referral, "Jag har slutat, kontakta lisa@foretag.se. Ta bort mig från er lista.", emails: ["lisa@foretag.se"], unsubscribe: true),
    // A pause while away is not a request to be removed.
    i(.en, .outOfOffice, "I'm on vacation this week, please stop emailing me until I'm back."),
    i(.en, .outOfOffice, "I am out of the office until Monday, please don't email me before then."),
    // Absence notices sent automatically keep their label; one that asks for removal asks it.
    i(
        .en, .outOfOffice, "I am out of the office until 14 December. This mailbox is no longer monitored, please remove me from your mailing list.",
        unsubscribe: true, auto: true),
    i(.de, .outOfOffice, "Ich bin bis zum 14. Dezember nicht im Büro. Bitte nehmen Sie mich aus dem Verteiler.", unsubscribe: true, auto: true),
    i(.fr, .outOfOffice, "Je suis absente jusqu'au 14 décembre inclus. Pour toute urgence, contactez le standard.", auto: true),
]
