import Foundation
import Testing

@testable import NudgeMIME

@Suite struct EncodedWordTests {
    @Test func base64AndQ() {
        #expect(EncodedWords.decode("=?UTF-8?B?44Gr44KD44KT44GT?=") == "にゃんこ")
        #expect(EncodedWords.decode("=?iso-8859-1?q?caf=E9_au_lait?=") == "café au lait")
        #expect(EncodedWords.decode("=?windows-1252?Q?=93quoted=94?=") == "“quoted”")
        #expect(EncodedWords.decode("=?ISO-8859-2?Q?=A3=F3d=BC?=") == "Łódź")
    }
    @Test func adjacentWordsJoinWithoutWhitespace() {
        #expect(EncodedWords.decode("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab")
        #expect(EncodedWords.decode("=?utf-8?q?a?= x =?utf-8?q?b?=") == "a x b")
        // A multi-byte character split across two words.
        #expect(EncodedWords.decode("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=") == "€")
    }
    @Test func unknownCharsetDegrades() {
        #expect(EncodedWords.decode("=?x-nope?Q?abc?=") == "abc")
        #expect(EncodedWords.decode("plain =?broken") == "plain =?broken")
    }
    @Test func iso2022jp() {
        #expect(EncodedWords.decode("=?iso-2022-jp?B?GyRCJWElQxsoQg==?=") == "メッ")
    }
}

@Suite struct ParameterTests {
    @Test func quotedAndPlain() {
        let p = HeaderParameters(parsing: "Multipart/Mixed; boundary=\"a;b\\\"c\"; charset=UTF-8")
        #expect(p.value == "multipart/mixed")
        #expect(p.parameters["boundary"] == "a;b\"c")
        #expect(p.parameters["charset"] == "UTF-8")
    }
    @Test func rfc2231ContinuationsAndCharset() {
        let p = HeaderParameters(parsing: "attachment; filename*0*=utf-8'en'%E2%82%AC%20rate; filename*1=\"s.txt\"")
        #expect(p.value == "attachment")
        #expect(p.parameters["filename"] == "€ rates.txt")
        let q = HeaderParameters(parsing: "text/plain; name*=iso-8859-1''caf%E9")
        #expect(q.parameters["name"] == "café")
    }
}

@Suite struct TransferEncodingTests {
    @Test func quotedPrintable() {
        #expect(String(decoding: TransferEncoding.quotedPrintable(Array("a=3Db=\r\nc=\nd =XY".utf8)), as: UTF8.self) == "a=bcd =XY")
    }
    @Test func base64Lenient() {
        #expect(String(decoding: TransferEncoding.base64(Array("SGVs\r\nbG8g d29y bGQ".utf8)), as: UTF8.self) == "Hello world")
        #expect(TransferEncoding.base64(Array("***".utf8)).isEmpty)
    }
}

@Suite struct HTMLTextTests {
    @Test func blocksEntitiesAndScripts() {
        let html =
            "<html><head><style>p{x}</style><title>t</title></head><body><p>Hello&nbsp;<b>World</b> &amp; &#233;&#x41;</p>"
            + "<script>alert(1)</script><div>Line<br>two</div><ul><li>a</li><li>b</li></ul><!-- c --></body></html>"
        #expect(HTMLText.toText(html) == "Hello World & éA\n\nLine\ntwo\n\n- a\n- b")
    }
    @Test func whitespaceCollapses() {
        #expect(HTMLText.toText("a\n   b\t\tc") == "a b c")
        #expect(HTMLText.toText("x < y and y > z") == "x < y and y > z")
    }
    /// Quoted history in an HTML-only reply reads as "> " lines, as in a plain-text one.
    @Test func blockquotesAreQuoted() {
        let html =
            "<div>Sounds good.</div><blockquote type=\"cite\"><div>On Tuesday, Sam wrote:</div><div>Hi,<br>Unsubscribe: https://x.example/u</div>"
            + "<blockquote>older</blockquote><ul><li>item</li></ul></blockquote><div>after</div>"
        let text = "Sounds good.\n\n> On Tuesday, Sam wrote:\n> Hi,\n> Unsubscribe: https://x.example/u\n\n> > older\n\n> - item\n\nafter"
        #expect(HTMLText.toText(html) == text)
    }
    /// Outlook's `<p class=MsoNormal>` paragraphs are lines; one with only "&nbsp;" is a blank line.
    @Test func outlookParagraphsAreLines() {
        let html =
            "<p class=MsoNormal>Hi Sam,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=\"MsoNormal\">Works for me.<o:p></o:p></p>"
            + "<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Best,<o:p></o:p></p><p class=MsoNormal>Tom <o:p></o:p></p><p>Other</p>"
        #expect(HTMLText.toText(html) == "Hi Sam,\n\nWorks for me.\n\nBest,\nTom\n\nOther")
    }
}

@Suite struct SubjectTests {
    @Test(arguments: [
        ("Re: Hello", "hello"), ("RE: Re: FW: Hello", "hello"), ("Fwd: [list] AW: Hallo Welt", "hallo welt"),
        ("SV: Antw: WG: Test", "test"), ("Réf. : Offre", "offre"), ("Re[2]: Status", "status"), ("  Re:   Spaced   out ", "spaced out"),
        ("Regarding the plan", "regarding the plan"), ("[EXT] RE: Quote", "quote"),
    ])
    func normalizes(_ input: String, _ expected: String) {
        #expect(SubjectNormalizer.normalize(input) == expected)
    }
}

@Suite struct HeaderTests {
    @Test func unfoldingAndDecoding() {
        let raw = Array("Subject: =?utf-8?q?Hello?=\r\n =?utf-8?q?_World?=\r\nX-Folded: a\r\n\tb\r\n\r\nbody".utf8)
        let m = MIMEParser.parse(raw)
        #expect(m.header("subject") == "Hello World")
        #expect(m.header("X-Folded") == "a\tb")
        #expect(m.text == "body")
    }
    @Test func crlfAndLFGiveSameResult() {
        let lf =
            "From: A <a@x.org>\nTo: b@y.org, \"C, D\" <c@z.org>\nContent-Type: multipart/alternative; boundary=q\n\n--q\nContent-Type: text/plain\n\nhi\nthere\n--q\nContent-Type: text/html\n\n<p>hi</p>\n--q--\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let a = InboundMessage.analyze(Array(lf.utf8))
        let b = InboundMessage.analyze(Array(crlf.utf8))
        #expect(a.text == "hi\nthere")
        #expect(b.text == a.text)
        #expect(a.to.map(\.address) == ["b@y.org", "c@z.org"])
        #expect(b.to == a.to)
        #expect(a.to.last?.name == "C, D")
    }
    @Test func addressForms() {
        let list = MailAddress.parseList("undisclosed-recipients:;, Mailer-Daemon@x.org (Mail Delivery System), <>, =?utf-8?q?J=C3=BCrgen?= <j@x.de>")
        #expect(list.map(\.address) == ["Mailer-Daemon@x.org", "", "j@x.de"])
        #expect(list[0].name == "Mail Delivery System")
        #expect(list[2].name == "Jürgen")
    }
    @Test func messageIDs() {
        #expect(MessageID.parseList("<a@b> (comment) <c@d>\r\n <e@f>") == ["a@b", "c@d", "e@f"])
        #expect(MessageID.parseList("junk a@b, c@d") == ["a@b", "c@d"])
        #expect(MessageID.parse("<x@y>") == "x@y")
    }
    @Test func dates() {
        #expect(MailDate.parse("Mon, 2 Apr 2012 18:22:10 +0400")?.timeIntervalSince1970 == 1_333_376_530)
        #expect(MailDate.parse("2 Apr 12 14:22 GMT")?.timeIntervalSince1970 == 1_333_376_520)
        #expect(MailDate.parse("Mon, 2 Apr 2012 06:45:30 -0700 (PDT)")?.timeIntervalSince1970 == 1_333_374_330)
        #expect(MailDate.parse("garbage") == nil)
    }
}

@Suite struct ClassifierTests {
    static func analyze(_ s: String) -> InboundMessage { InboundMessage.analyze(Array(s.utf8)) }

    @Test func outOfOfficeSubjects() {
        for subject in [
            "Out of Office: Re: Deal", "Automatic reply: Deal", "Abwesenheitsnotiz: Angebot", "Réponse automatique : Offre",
            "Respuesta automática: Oferta", "Fuori sede: Offerta", "Afwezig: offerte",
        ] {
            #expect(Self.analyze("From: p@x.org\nSubject: \(subject)\n\nI am away.\n").classification == .autoReply, "\(subject)")
        }
    }
    @Test func autoSubmittedHeader() {
        #expect(Self.analyze("From: p@x.org\nAuto-Submitted: auto-replied\nSubject: Re: x\n\nAway\n").classification == .autoReply)
        #expect(Self.analyze("From: p@x.org\nAuto-Submitted: no\nSubject: Re: x\n\nThanks!\n").classification == .humanReply)
    }
    @Test func dsnWinsOverAutoSubmitted() {
        let dsn = """
            From: MAILER-DAEMON@mx.example.org
            Auto-Submitted: auto-replied
            Subject: Undelivered Mail Returned to Sender
            Content-Type: multipart/report; report-type=delivery-status; boundary=B

            --B
            Content-Type: text/plain

            failed
            --B
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.example.org

            Final-Recipient: rfc822; gone@example.com
            Action: delayed
            Status: 4.4.1
            Diagnostic-Code: smtp; 450 try later

            --B
            Content-Type: text/rfc822-headers

            Message-ID: <orig@example.net>
            To: gone@example.com

            --B--
            """
        let m = Self.analyze(dsn)
        #expect(m.classification == .bounce)
        #expect(m.bounce?.recipients.first?.address == "gone@example.com")
        #expect(m.bounce?.recipients.first?.status == "4.4.1")
        #expect(m.bounce?.recipients.first?.permanent == false)
        #expect(m.bounce?.recipients.first?.diagnostic == "450 try later")
        #expect(m.bounce?.originalMessageID == "orig@example.net")
    }
    @Test func personMentioningBounceWordsIsStillHuman() {
        let m = Self.analyze(
            "From: Ann <ann@x.org>\nSubject: Re: Undeliverable invoice?\n\nYour last mail could not be delivered to Bob, can you resend?\n")
        #expect(m.classification == .humanReply)
    }
}

@Suite struct ReplyTextTests {
    @Test func germanAndFrenchAttributions() {
        #expect(ReplyText.extract("Danke!\n\nAm 02.04.2012 um 14:20 schrieb Bob <b@x.de>:\n> Hallo\n") == "Danke!")
        #expect(ReplyText.extract("Merci\n\nLe 3 avr. 2012 à 16:19, Bob <b@x.fr> a écrit :\n\n> Salut\n") == "Merci")
    }
    @Test func outlookBlockAndOriginalMessage() {
        #expect(ReplyText.extract("Yes.\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold") == "Yes.")
        #expect(ReplyText.extract("Ok\n\nFrom: Bob Smith\nSent: Monday\nTo: Ann\nSubject: Q\n\nold text") == "Ok")
    }
    @Test func wrappedGmailAttribution() {
        #expect(ReplyText.extract("Sure\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <xxx@gmail.com>\nwrote:\n\n> Hi\n") == "Sure")
    }
    @Test func mobileSignatureOptIn() {
        let t = "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob wrote:\n\n> Hi"
        #expect(ReplyText.extract(t) == "Hello\n\nSent from my iPhone")
        #expect(ReplyText.extract(t, stripMobileSignatures: true) == "Hello")
        #expect(ReplyText.extract("Thanks\n\nGet Outlook for iOS", stripMobileSignatures: true) == "Thanks")
    }
}

@Suite struct CharsetTests {
    @Test func declaredAndMislabelled() {
        #expect(Charsets.decode([0xE9], charset: "iso-8859-1") == "é")
        #expect(Charsets.decode([0xC0, 0xC1], charset: "koi8-r") == "юа")
        // EUC-JP bytes labelled ISO-2022-JP (a 7-bit charset) fall back to the Japanese siblings.
        #expect(Charsets.decode([0xA4, 0xCB, 0xA4, 0xE3], charset: "iso-2022-jp") == "にゃ")
        // Unknown charset: valid UTF-8 stays UTF-8, anything else becomes Latin-1.
        #expect(Charsets.decode(Array("ü".utf8), charset: "x-made-up") == "ü")
        #expect(Charsets.decode([0xFC], charset: "x-made-up") == "ü")
    }
}

/// The byte-level replacements for Foundation's string search, case-insensitive compare and trim.
@Suite struct TextSearchTests {
    @Test func containsTextMatchesFoundationOnASCIIAndKeepsCanonicalEquivalence() {
        #expect("re: out of office until monday".containsText("out of office"))
        #expect(!"re: out of offic".containsText("out of office"))
        #expect("abc".containsText(""))
        #expect(!"ab".containsText("abc"))
        #expect("aaab".containsText("aab"))
        #expect("x: vacation".dropFirst(3).containsText("vacation"))
        // Non-ASCII text keeps Foundation's search: a decomposed "é" matches a composed one.
        #expect("re\u{301}ponse automatique".containsText("réponse automatique"))
        #expect("réponse automatique".containsText("re\u{301}ponse"))
        #expect(!"réponse".containsText("automatique"))
    }

    @Test func byteSearchFindsEveryPlaceAndNothingElse() {
        let needles = ["aab", "b", "abc", "zz", "ü"].map { Array($0.utf8) }
        #expect(ByteSearch.occurring(needles, in: "aaab") == [0, 1])
        #expect(ByteSearch.occurring(needles, in: "xyzabc") == [1, 2])
        #expect(ByteSearch.occurring(needles, in: "zz grüße") == [3, 4])
        #expect(ByteSearch.occurring(needles, in: "").isEmpty)
        #expect(ByteSearch.anyOccurs(needles, in: "ab") == true)
        #expect(ByteSearch.anyOccurs(needles, in: "aa") == false)
        // At the very end, and a needle as long as the text.
        #expect(ByteSearch.anyOccurs([Array("abc".utf8)], in: "abc"))
        #expect(ByteSearch.anyOccurs([Array("c".utf8)], in: "abc"))
        #expect(!ByteSearch.anyOccurs([Array("abcd".utf8)], in: "abc"))
    }

    @Test func lineEndingsNormaliseLikeFoundationsReplacements() {
        for s in ["a\r\nb\rc\n\r\nd", "\r", "\r\r\n", "\n\r", "no breaks", "", "é\r\n日本\r", "x\r\n\r\n"] {
            let foundation = s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            #expect(s.normalizedLineEndings == foundation, "\(s.unicodeScalars.map { $0.value })")
        }
    }

    @Test func headerNamesCompareIgnoringASCIICase() {
        #expect("Return-Path".equalsIgnoringASCIICase("return-path"))
        #expect("X-AUTOREPLY".equalsIgnoringASCIICase("X-Autoreply"))
        #expect(!"From".equalsIgnoringASCIICase("Fro"))
        #expect(!"X-Auto-Reply".equalsIgnoringASCIICase("X-Auto_Reply"))
        let headers = [MIMEHeader(name: "CONTENT-type", value: "text/plain")]
        #expect(headers.first(named: "Content-Type") != nil)
    }

    @Test func trimmedDropsUnicodeWhiteSpaceOnly() {
        #expect(" \t a b \r\n".trimmed == "a b")
        #expect("\u{00A0}x\u{3000}".trimmed == "x")
        #expect("\u{2028}y\u{0085}".trimmed == "y")
        #expect("   ".trimmed == "")
        #expect("".trimmed == "")
        #expect("ab".trimmed == "ab")
        #expect("\u{200B}z".trimmed == "z")
        // The same set as Foundation's, scalar by scalar over the Basic Multilingual Plane.
        var differ: [UInt32] = []
        for v in UInt32(0)...0xFFFF {
            guard let u = Unicode.Scalar(v) else { continue }
            let s = String(u) + "a" + String(u)
            if s.trimmed != s.trimmingCharacters(in: .whitespacesAndNewlines) { differ.append(v) }
        }
        #expect(differ.isEmpty, "\(differ.map { String($0, radix: 16) })")
    }
}
