@testable import NudgeMIME

/// A reply's new text and the body a person sees once the signature is gone.
struct SignatureLabel {
    var language: ReplyLanguage
    var text: String
    var body: String
}

private func s(_ l: ReplyLanguage, _ text: String, _ body: String) -> SignatureLabel { SignatureLabel(language: l, text: text, body: body) }

let signatureLabels: [SignatureLabel] = [
    // Mobile clients
    s(.en, "Sounds good, talk Tuesday.\n\nSent from my iPhone", "Sounds good, talk Tuesday."),
    s(.en, "Yes please send it over.\n\nSent from my Samsung Galaxy smartphone.", "Yes please send it over."),
    s(.en, "Will do.\n\nGet Outlook for Android", "Will do."),
    s(.en, "Thanks, looks fine.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>", "Thanks, looks fine."),
    s(.fr, "D'accord pour jeudi.\n\nEnvoyé de mon iPhone", "D'accord pour jeudi."),
    s(.de, "Passt für mich.\n\nVon meinem iPhone gesendet", "Passt für mich."),
    s(.es, "Perfecto, nos vemos.\n\nEnviado desde mi iPhone", "Perfecto, nos vemos."),
    s(.it, "Va bene, grazie.\n\nInviato da iPhone", "Va bene, grazie."),
    s(.nl, "Prima, tot dan.\n\nVerzonden vanaf mijn iPhone", "Prima, tot dan."),
    s(.pt, "Combinado.\n\nEnviado do meu iPhone", "Combinado."),
    s(.sv, "Det låter bra.\n\nSkickat från min iPhone", "Det låter bra."),
    s(.de, "Ja, gerne.\n\nVon meinem Samsung Galaxy Smartphone gesendet.", "Ja, gerne."),
    // "-- " delimiter
    s(.en, "Friday works.\n\n-- \nAlex Kim\nHead of Ops, Northwind\n+44 20 7946 0000", "Friday works."),
    s(.de, "Anbei die Unterlagen.\n--\nJonas Becker\nBecker GmbH | Berlin", "Anbei die Unterlagen."),
    // Sign-off blocks
    s(
        .en, "Hi Sam,\n\nThanks for the details. Let's talk next week.\n\nBest regards,\nDana Smith\nCTO | Acme Inc.\n+1 555 0100\nwww.acme.com",
        "Hi Sam,\n\nThanks for the details. Let's talk next week."),
    s(.en, "Hi Sam,\n\nI'll check with the team and come back to you.\n\nThanks,\nMike", "Hi Sam,\n\nI'll check with the team and come back to you."),
    s(.en, "Works for me.\n\nCheers,\nTom\n\nTom Baker | Sales Director\nm: +44 7700 900123", "Works for me."),
    s(
        .de,
        "Hallo Herr Carter,\n\nvielen Dank, wir melden uns nächste Woche.\n\nMit freundlichen Grüßen,\nKatrin Braun\nEinkauf\nMüller AG\nTel. +49 89 123456",
        "Hallo Herr Carter,\n\nvielen Dank, wir melden uns nächste Woche."),
    s(.de, "Danke, passt.\n\nViele Grüße\nJan", "Danke, passt."),
    s(
        .fr, "Bonjour,\n\nPouvez-vous m'envoyer la proposition ?\n\nCordialement,\nPaul Durand\nDirecteur commercial\n01 23 45 67 89",
        "Bonjour,\n\nPouvez-vous m'envoyer la proposition ?"),
    s(
        .es, "Hola Sam,\n\nMe parece bien, hablamos el lunes.\n\nSaludos,\nLucía Gómez\nResponsable de Compras\nTel: +34 912 345 678",
        "Hola Sam,\n\nMe parece bien, hablamos el lunes."),
    s(
        .it, "Buongiorno,\n\nconfermo la call di giovedì.\n\nCordiali saluti,\nMarco Rossi\nUfficio Acquisti",
        "Buongiorno,\n\nconfermo la call di giovedì."),
    s(
        .nl, "Hallo Sam,\n\nDank voor je bericht, ik kom erop terug.\n\nMet vriendelijke groet,\nSanne de Vries\nInkoop | Bedrijf BV\n06 12345678",
        "Hallo Sam,\n\nDank voor je bericht, ik kom erop terug."),
    s(.pt, "Olá Sam,\n\nPodemos falar amanhã.\n\nAtenciosamente,\nAna Souza\nGerente de Compras", "Olá Sam,\n\nPodemos falar amanhã."),
    s(.sv, "Hej Sam,\n\nDet passar bra på torsdag.\n\nMed vänliga hälsningar,\nErik Lind\nInköpschef", "Hej Sam,\n\nDet passar bra på torsdag."),
    s(.en, "Sure, send the invite.\n\nThanks, Anna", "Sure, send the invite."),
    // Legal footers
    s(
        .en,
        "Please find the signed form attached.\n\nCONFIDENTIALITY NOTICE: This email and any attachments are confidential and intended solely for the addressee.",
        "Please find the signed form attached."),
    s(
        .de,
        "Wir sind interessiert.\n\nKatrin Braun\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte den Absender.",
        "Wir sind interessiert.\n\nKatrin Braun"),
    s(
        .fr, "Merci, c'est noté.\n\nBien cordialement,\nJulie\n\nCe message et toutes les pièces jointes sont confidentiels.",
        "Merci, c'est noté."),
    // Sign-off words that are not a signature: the text goes on.
    s(
        .en, "Hi Sam,\n\nThanks\n\nI also wanted to ask whether you support SSO and how billing works for annual plans.\n\nBest,\nLee",
        "Hi Sam,\n\nThanks\n\nI also wanted to ask whether you support SSO and how billing works for annual plans."),
    // No signature at all.
    s(.en, "Sounds good to me.", "Sounds good to me."),
    // Second batch, written after the rules above
    s(.en, "Ok!\n\nBR,\nJohn", "Ok!"),
    s(.en, "Sounds good.\n\nKind regards\n\nJohn Smith\nAcme", "Sounds good."),
    s(.it, "Grazie mille!\n\n--\nLuca", "Grazie mille!"),
    s(.fr, "Parfait.\n\nObtenir Outlook pour Android", "Parfait."),
    s(
        .de,
        "Hi,\nYes, Tuesday works.\nRegards,\nPeter Müller\nGeschäftsführer\nMüller & Partner GmbH\nT +49 30 1234 5678\nwww.mueller-partner.de\n\nSitz der Gesellschaft: Berlin, Amtsgericht Charlottenburg HRB 12345",
        "Hi,\nYes, Tuesday works."),
    // Third batch
    s(.en, "Thanks, will review.\n\nBest,\nJane\n\nSent from my iPhone", "Thanks, will review."),
    s(.sv, "Låter bra.\n\nMed vänlig hälsning\nOla Nordmann\n[cid:image001.png@01D9C1A2.3B4C5D60]", "Låter bra."),
    s(.en, "Sure, go ahead.\n\nJohn Smith | VP Sales | Acme\nM: +1 555 0101", "Sure, go ahead."),
    s(.fr, "Merci !\n\n--\nClaire Dubois\nResponsable achats", "Merci !"),
    s(
        .es,
        "Genial, gracias.\n\nSaludos cordiales\n\nMarta López\nDirectora Financiera\nwww.empresa.es\n\nEste mensaje y sus anexos son confidenciales.",
        "Genial, gracias."),
    s(.it, "Sì, va bene giovedì alle 10.\n\nUn saluto,\nGiulia", "Sì, va bene giovedì alle 10."),
    s(.nl, "Akkoord.\n\nGroet,\nKees", "Akkoord."),
    s(.pt, "Perfeito, obrigado!\n\nAbraços,\nPedro\n\nEnviado do meu iPhone", "Perfeito, obrigado!"),
    s(.en, "Hi,\n\nRegards to the team, we'll be in touch next week.", "Hi,\n\nRegards to the team, we'll be in touch next week."),
    // Fourth batch, written before running it
    s(.de, "Danke, passt so.\n\nMit freundlichen Grüßen / Kind regards\n\nAnna Schulz\nVertrieb", "Danke, passt so."),
    s(.fr, "Ok pour moi.\n\nCordialement / Best regards,\nLéa", "Ok pour moi."),
    s(.en, "See you then.\n\nWarm regards,\n\nPriya\n\n--\nPriya Shah\nhttps://example.com", "See you then."),
    s(.nl, "Dat is goed.\n\nMet vriendelijke groet / Kind regards,\nJoost", "Dat is goed."),
    s(.es, "De acuerdo.\n\nUn saludo\nPablo\nEnviado desde mi móvil", "De acuerdo."),
    s(.en, "Great, thanks!\n\nBest\nSam\n\nDISCLAIMER: This message is for the named recipient only.", "Great, thanks!"),
    // Fifth batch, written before running it and kept as first scored (held out from tuning)
    s(.en, "Confirmed for 2pm.\n\nRegards,\nMark Evans\nSenior Buyer\nGlobex Corp.\nT: 020 7946 0321", "Confirmed for 2pm."),
    s(.de, "Termin passt.\n\nBeste Grüße aus Hamburg\nLena", "Termin passt."),
    s(.fr, "Je regarde ça demain.\n\nBien à vous,\nMarc Leroy", "Je regarde ça demain."),
    s(.it, "Ricevuto, grazie.\n\nSaluti\nAndrea Bianchi\nTel. +39 02 1234567", "Ricevuto, grazie."),
    s(.pt, "Combinado, até lá.\n\nAtt,\nRafael\n\nEnviado do meu Android", "Combinado, até lá."),
    s(.sv, "Tack för infon.\n\nHälsningar\nMaja\n\nSkickat från Outlook för iOS", "Tack för infon."),
    s(.es, "Lo reviso y te digo.\n\nUn abrazo,\nDiego", "Lo reviso y te digo."),
    s(.nl, "Klopt, dank.\n\nHartelijke groet,\nFemke\n\nDeze e-mail is uitsluitend bestemd voor de geadresseerde.", "Klopt, dank."),
]
