@testable import NudgeMIME

/// Whole messages as clients send them (headers, multipart, quoted-printable and base64, HTML
/// with each client's quoting), with what the full inbound analysis must read from them.
struct MessageLabel {
    var name: String
    var raw: String
    var classification: InboundClass
    var intent: ReplyIntent.Kind
    var unsubscribe: Bool
    /// `reply_text` and `signature_text` as stored.
    var body: String
    var signature: String
    var returnDate: String?
    var emails: [String] = []
    var names: [String] = []

    /// The message with CRLF line ends, as it arrives.
    var bytes: [UInt8] { Array(raw.replacingOccurrences(of: "\n", with: "\r\n").utf8) }
}

let messageLabels: [MessageLabel] = [
    MessageLabel(
        name: "Gmail, German, multipart/alternative in quoted-printable: away this week and asking to be removed",
        raw: #"""
            From: Katrin Braun <k.braun@mueller-ag.example>
            To: Sam Carter <sam@nudge.example>
            Subject: Re: Kurze Nachfrage
            Date: Thu, 3 Dec 2026 10:15:02 +0100
            Message-ID: <CAF3x9Q@mail.gmail.com>
            In-Reply-To: <follow-up-1@nudge.example>
            References: <follow-up-1@nudge.example>
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

            --000000000000a1b2c3
            Content-Type: text/plain; charset="UTF-8"
            Content-Transfer-Encoding: quoted-printable

            Hallo Herr Carter,

            ich bin diese Woche im Urlaub. Bitte tragen Sie mich aus Ihrem Verteiler au=
            s.

            Mit freundlichen Gr=C3=BC=C3=9Fen
            Katrin Braun

            Am Di., 1. Dez. 2026 um 09:00 Uhr schrieb Sam Carter <sam@nudge.example>:
            > Guten Tag Frau Braun,
            >
            > kurze Nachfrage zu meiner letzten Nachricht.
            >
            > Abmelden: https://nudge.example/u/k3J9

            --000000000000a1b2c3
            Content-Type: text/html; charset="UTF-8"
            Content-Transfer-Encoding: quoted-printable

            <div dir=3D"ltr">Hallo Herr Carter,<div><br></div><div>ich bin diese Woche =
            im Urlaub. Bitte tragen Sie mich aus Ihrem Verteiler aus.</div><div><br></d=
            iv><div>Mit freundlichen Gr=C3=BC=C3=9Fen</div><div>Katrin Braun</div></div=
            ><br><div class=3D"gmail_quote"><div dir=3D"ltr" class=3D"gmail_attr">Am Di=
            ., 1. Dez. 2026 um 09:00 Uhr schrieb Sam Carter &lt;<a href=3D"mailto:sam@n=
            udge.example">sam@nudge.example</a>&gt;:<br></div><blockquote class=3D"gmai=
            l_quote" style=3D"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,20=
            4,204);padding-left:1ex"><div>Guten Tag Frau Braun,</div><div><br></div><di=
            v>kurze Nachfrage zu meiner letzten Nachricht.</div><div><br></div><div>Abm=
            elden: <a href=3D"https://nudge.example/u/k3J9">https://nudge.example/u/k3J=
            9</a></div></blockquote></div>

            --000000000000a1b2c3--

            """#,
        classification: .humanReply, intent: .unsubscribeRequest, unsubscribe: true,
        body: "Hallo Herr Carter,\n\nich bin diese Woche im Urlaub. Bitte tragen Sie mich aus Ihrem Verteiler aus.",
        signature: "Mit freundlichen Grüßen\nKatrin Braun", returnDate: nil, emails: [], names: []),
    MessageLabel(
        name: "Outlook, English, HTML only: a hand-over that asks to be removed, history under a From/Sent block",
        raw: #"""
            From: Tom Baker <tom.baker@acme.example>
            To: Sam Carter <sam@nudge.example>
            Subject: RE: Following up
            Thread-Topic: Following up
            Thread-Index: AQHbX2y1c3f0d9mXkE2VZ1Q==
            Date: Thu, 3 Dec 2026 09:41:27 +0000
            Message-ID: <LO2P265MB0001@LO2P265MB0001.GBRP265.PROD.OUTLOOK.COM>
            In-Reply-To: <follow-up-2@nudge.example>
            References: <follow-up-2@nudge.example>
            Content-Language: en-GB
            X-MS-Has-Attach:
            X-MS-TNEF-Correlator:
            MIME-Version: 1.0
            Content-Type: text/html; charset="utf-8"
            Content-Transfer-Encoding: quoted-printable

            <html xmlns:o=3D"urn:schemas-microsoft-com:office:office" xmlns=3D"http://w=
            ww.w3.org/TR/REC-html40"><head><meta http-equiv=3DContent-Type content=3D"t=
            ext/html; charset=3Dutf-8"><style><!--
            p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; fon=
            t-family:"Calibri",sans-serif;}
            --></style></head><body lang=3DEN-GB link=3D"#0563C1" vlink=3D"#954F72"><di=
            v class=3DWordSection1>
            <p class=3DMsoNormal>Hi Sam,<o:p></o:p></p><p class=3DMsoNormal><o:p>&nbsp;=
            </o:p></p>
            <p class=3DMsoNormal>I=E2=80=99ve left Acme, please write to Maria Lopez (<=
            a href=3D"mailto:maria.lopez@acme.com">maria.lopez@acme.com</a>) from now o=
            n, and take me off your list.<o:p></o:p></p>
            <p class=3DMsoNormal><o:p>&nbsp;</o:p></p><p class=3DMsoNormal>Thanks,<o:p>=
            </o:p></p><p class=3DMsoNormal>Tom Baker<o:p></o:p></p>
            <p class=3DMsoNormal><o:p>&nbsp;</o:p></p>
            <div style=3D'border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm =
            0cm 0cm'><p class=3DMsoNormal><b>From:</b> Sam Carter &lt;sam@nudge.example=
            &gt; <br><b>Sent:</b> 01 December 2026 09:00<br><b>To:</b> Tom Baker &lt;to=
            m.baker@acme.com&gt;<br><b>Subject:</b> Following up<o:p></o:p></p></div>
            <p class=3DMsoNormal><o:p>&nbsp;</o:p></p><p class=3DMsoNormal>Hi Tom, quic=
            k follow-up on my note below.<o:p></o:p></p><p class=3DMsoNormal>Unsubscrib=
            e: https://nudge.example/u/x7Q2<o:p></o:p></p>
            </div></body></html>

            """#,
        classification: .humanReply, intent: .referral, unsubscribe: true,
        body: "Hi Sam,\n\nI’ve left Acme, please write to Maria Lopez (maria.lopez@acme.com) from now on, and take me off your list.",
        signature: "Thanks,\nTom Baker", returnDate: nil, emails: ["maria.lopez@acme.com"], names: ["Maria Lopez"]),
    MessageLabel(
        name: "Apple Mail, English, HTML only in base64: quoting Nudge's mail and its unsubscribe line in a blockquote",
        raw: #"""
            From: Alex Kim <alex@northwind.example>
            Content-Type: text/html; charset=utf-8
            Content-Transfer-Encoding: base64
            Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3774.600.62\))
            Subject: Re: Following up
            Date: Thu, 3 Dec 2026 11:02:40 +0100
            References: <follow-up-3@nudge.example>
            To: Sam Carter <sam@nudge.example>
            In-Reply-To: <follow-up-3@nudge.example>
            Message-Id: <5F1C2D3E-1A2B-4C5D-8E9F-0A1B2C3D4E5F@northwind.example>
            X-Mailer: Apple Mail (2.3774.600.62)

            PGh0bWw+PGhlYWQ+PG1ldGEgaHR0cC1lcXVpdj0iY29udGVudC10eXBlIiBjb250ZW50PSJ0ZXh0
            L2h0bWw7IGNoYXJzZXQ9dXRmLTgiPjwvaGVhZD48Ym9keSBzdHlsZT0ib3ZlcmZsb3ctd3JhcDog
            YnJlYWstd29yZDsgLXdlYmtpdC1uYnNwLW1vZGU6IHNwYWNlOyBsaW5lLWJyZWFrOiBhZnRlci13
            aGl0ZS1zcGFjZTsiPlNvdW5kcyBnb29kLCBjYW4gd2Ugc2NoZWR1bGUgYSBjYWxsIG5leHQgd2Vl
            az88ZGl2Pjxicj48L2Rpdj48ZGl2PkJlc3QsPC9kaXY+PGRpdj5BbGV4PC9kaXY+PGRpdj48YnI+
            PGJsb2NrcXVvdGUgdHlwZT0iY2l0ZSI+PGRpdj5PbiAxIERlYyAyMDI2LCBhdCAwOTowMCwgU2Ft
            IENhcnRlciAmbHQ7c2FtQG51ZGdlLmV4YW1wbGUmZ3Q7IHdyb3RlOjwvZGl2PjxiciBjbGFzcz0i
            QXBwbGUtaW50ZXJjaGFuZ2UtbmV3bGluZSI+PGRpdj48ZGl2PkhpIEFsZXgsPC9kaXY+PGRpdj48
            YnI+PC9kaXY+PGRpdj5RdWljayBmb2xsb3ctdXAgb24gbXkgbm90ZSBiZWxvdy48L2Rpdj48ZGl2
            Pjxicj48L2Rpdj48ZGl2PlVuc3Vic2NyaWJlOiBodHRwczovL251ZGdlLmV4YW1wbGUvdS9rM0o5
            PC9kaXY+PC9kaXY+PC9ibG9ja3F1b3RlPjwvZGl2Pjxicj48L2JvZHk+PC9odG1sPgo=

            """#,
        classification: .humanReply, intent: .meetingRequest, unsubscribe: false,
        body: "Sounds good, can we schedule a call next week?",
        signature: "Best,\nAlex", returnDate: nil, emails: [], names: []),
    MessageLabel(
        name: "French absence notice, automatic, multipart/alternative: away from the 7th to the 11th",
        raw: #"""
            From: Julie Martin <julie.martin@societe.example>
            To: Sam Carter <sam@nudge.example>
            Subject: =?UTF-8?Q?R=C3=A9ponse_automatique=C2=A0:_Following_up?=
            Date: Thu, 3 Dec 2026 09:12:44 +0100
            Message-ID: <auto-7731@societe.example>
            In-Reply-To: <follow-up-4@nudge.example>
            Auto-Submitted: auto-replied
            X-Auto-Response-Suppress: All
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary="=_alt_4e2a"

            --=_alt_4e2a
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            Bonjour,

            Je suis absente du 7 au 11 d=C3=A9cembre inclus, avec un acc=C3=A8s limit=
            =C3=A9 =C3=A0 mes e-mails. Je vous r=C3=A9pondrai =C3=A0 mon retour.

            Cordialement,
            Julie Martin
            --=_alt_4e2a
            Content-Type: text/html; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            <html><body><p>Bonjour,</p><p>Je suis absente du 7 au 11 d=C3=A9cembre incl=
            us, avec un acc=C3=A8s limit=C3=A9 =C3=A0 mes e-mails. Je vous r=C3=A9pondr=
            ai =C3=A0 mon retour.</p><p>Cordialement,<br>Julie Martin</p></body></html>
            --=_alt_4e2a--

            """#,
        classification: .autoReply, intent: .outOfOffice, unsubscribe: false,
        body: "Bonjour,\n\nJe suis absente du 7 au 11 décembre inclus, avec un accès limité à mes e-mails. Je vous répondrai à mon retour.",
        signature: "Cordialement,\nJulie Martin", returnDate: "2026-12-14", emails: [], names: []),
    MessageLabel(
        name: "English absence notice, automatic, HTML only: back on the 14th, and asking to be removed",
        raw: #"""
            From: Dana Smith <dana@globex.example>
            To: Sam Carter <sam@nudge.example>
            Subject: Automatic reply: Following up
            Date: Thu, 3 Dec 2026 08:30:00 +0000
            Message-ID: <auto-0042@globex.example>
            In-Reply-To: <follow-up-5@nudge.example>
            Auto-Submitted: auto-replied
            X-MS-Exchange-Inbox-Rules-Loop: dana@globex.example
            MIME-Version: 1.0
            Content-Type: text/html; charset="utf-8"
            Content-Transfer-Encoding: quoted-printable

            <html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=
            =3Dutf-8"></head><body><div style=3D"font-family: Aptos, Arial, sans-serif;=
             font-size: 12pt;">I am out of the office until Monday 14 December.</div><d=
            iv style=3D"font-family: Aptos, Arial, sans-serif; font-size: 12pt;"><br></=
            div><div style=3D"font-family: Aptos, Arial, sans-serif; font-size: 12pt;">=
            This mailbox is no longer monitored: please remove me from your mailing lis=
            t.</div></body></html>

            """#,
        classification: .autoReply, intent: .outOfOffice, unsubscribe: true,
        body: "I am out of the office until Monday 14 December.\n\nThis mailbox is no longer monitored: please remove me from your mailing list.",
        signature: "", returnDate: "2026-12-14", emails: [], names: []),
]
