import Foundation

@testable import NudgeMIME

/// A labelled reply as the message that brings it: a reply to Nudge's mail with the usual
/// headers, its text as the text/plain part, or as the text/html part a mail client writes
/// (`Client`), read by the full inbound analysis (`InboundMessage.analyze`, `ReplyAnalysis.analyze`).
enum LabelMail {
    static let sender = "reply@customer.example"

    static func raw(_ body: String, html: Bool = false, auto: Bool = false, subject: String = "Re: Following up") -> [UInt8] {
        var headers = [
            "From: Reply Person <\(sender)>", "To: Sam Carter <sam@nudge.example>", "Subject: \(subject)",
            "Date: Thu, 03 Dec 2026 10:15:00 +0100", "Message-ID: <\(UUID().uuidString)@customer.example>",
            "In-Reply-To: <follow-up-1@nudge.example>", "References: <follow-up-1@nudge.example>", "MIME-Version: 1.0",
            "Content-Type: text/\(html ? "html" : "plain"); charset=utf-8", "Content-Transfer-Encoding: 8bit",
        ]
        if auto { headers += ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"] }
        let text = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + text + "\r\n").utf8)
    }

    static func analyze(_ raw: [UInt8], timeZone: String = "Europe/Berlin") -> (InboundMessage, ReplyAnalysis) {
        let m = InboundMessage.analyze(raw)
        return (m, ReplyAnalysis.analyze(m, timeZone: TimeZone(identifier: timeZone)!))
    }

    /// The message variants every label is scored in: its text, and each client's HTML.
    static func variants(_ text: String, auto: Bool = false) -> [(name: String, raw: [UInt8])] {
        [("text", raw(text, auto: auto))] + Client.allCases.map { ("html \($0)", raw($0.html(text), html: true, auto: auto)) }
    }
}

/// How mail clients write a reply's HTML part: the new text in their markup, the quoted
/// history ("On ... wrote:" and "> " lines of the plain label) in their quoting markup.
enum Client: CaseIterable {
    case gmail, outlook, appleMail, thunderbird

    func html(_ text: String) -> String {
        let (reply, attribution, quote) = Self.parts(text)
        switch self {
        case .gmail:
            let body = reply.enumerated().map { i, l in i == 0 ? Self.esc(l) : l.isEmpty ? "<div><br></div>" : "<div>\(Self.esc(l))</div>" }
            var out = #"<div dir="ltr">"# + body.joined() + "</div>"
            if let attribution {
                out +=
                    #"<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">\#(Self.esc(attribution))<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">"#
                    + quote.map(Self.esc).joined(separator: "<br>") + "</blockquote></div>"
            }
            return out
        case .outlook:
            let p = { (l: String) in l.isEmpty ? "<p class=MsoNormal><o:p>&nbsp;</o:p></p>" : "<p class=MsoNormal>\(Self.esc(l))<o:p></o:p></p>" }
            var out = """
                <html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv=Content-Type content="text/html; charset=utf-8">\
                <style><!-- p.MsoNormal {margin:0cm;font-size:11.0pt;font-family:"Calibri",sans-serif;} --></style></head>\
                <body lang=EN-US link="#0563C1"><div class=WordSection1>
                """
            out += reply.map(p).joined()
            if attribution != nil {
                out +=
                    "<p class=MsoNormal><o:p>&nbsp;</o:p></p><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
                    + "<p class=MsoNormal><b>From:</b> Sam Carter &lt;sam@nudge.example&gt; <br><b>Sent:</b> Tuesday, December 1, 2026 9:00 AM<br>"
                    + "<b>To:</b> Reply Person &lt;reply@customer.example&gt;<br><b>Subject:</b> Following up<o:p></o:p></p></div>"
                    + quote.map(p).joined()
            }
            return out + "</div></body></html>"
        case .appleMail:
            let body = reply.enumerated().map { i, l in i == 0 ? Self.esc(l) : l.isEmpty ? "<div><br></div>" : "<div>\(Self.esc(l))</div>" }
            var out =
                #"<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">"#
                + body.joined()
            if let attribution {
                out +=
                    #"<div><br><blockquote type="cite"><div>\#(Self.esc(attribution))</div><br class="Apple-interchange-newline"><div>"#
                    + quote.map { "<div>\(Self.esc($0))</div>" }.joined() + "</div></blockquote></div>"
            }
            return out + "</body></html>"
        case .thunderbird:
            // Paragraphs at blank lines, lines in them joined by <br>.
            var paragraphs: [[String]] = [[]]
            for l in reply { if l.isEmpty { paragraphs.append([]) } else { paragraphs[paragraphs.count - 1].append(Self.esc(l)) } }
            var out =
                #"<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>"#
                + paragraphs.filter { !$0.isEmpty }.map { "<p>" + $0.joined(separator: "<br>\n") + "</p>\n" }.joined()
            if let attribution {
                out +=
                    #"<div class="moz-cite-prefix">\#(Self.esc(attribution))<br></div><blockquote type="cite" cite="mid:follow-up-1@nudge.example">"#
                    + quote.map(Self.esc).joined(separator: "<br>\n") + "</blockquote>"
            }
            return out + "</body></html>"
        }
    }

    /// The plain label's new lines, its attribution line and its quoted lines (without "> ").
    static func parts(_ text: String) -> (reply: [String], attribution: String?, quote: [String]) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let q = lines.firstIndex(where: { $0.hasPrefix(">") }) else { return (trimmed(lines), nil, []) }
        var a = q - 1
        while a >= 0 && lines[a].trimmingCharacters(in: .whitespaces).isEmpty { a -= 1 }
        let attribution = a >= 0 && lines[a].hasSuffix(":") ? lines[a] : nil
        let quote = lines[q...].filter { $0.hasPrefix(">") }.map { String($0.dropFirst()).trimmingCharacters(in: .whitespaces) }
        return (trimmed(Array(lines[..<(attribution == nil ? q : a)])), attribution, quote)
    }

    private static func trimmed(_ lines: [String]) -> [String] {
        var l = lines.map { $0.trimmingCharacters(in: .whitespaces) }
        while l.last?.isEmpty == true { l.removeLast() }
        return l
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
