import Foundation
import NudgeWorkers
import Testing

/// The output guard on its own: what a written step may say and where it may point.
@Suite struct OutputGuardTests {
    static let instruction =
        "Write a short, friendly second follow-up about the proposal, offering a call. Our booking page is https://cal.example.org/acme and our office line +1 555 010 2000."

    static let system: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("prompts/write_step.system.mustache")
        return ((try? String(contentsOf: url, encoding: .utf8)) ?? "")
            .replacingOccurrences(of: "{{inbox.display_name}}", with: "Acme Sales").replacingOccurrences(
                of: "{{inbox.address}}", with: "sales@acme.test")
    }()

    static func context(stepSubject: Bool = false, fallback: Bool = true) -> OutputGuard.Context {
        var g = OutputGuard.Context()
        g.instructions = [instruction]
        g.system = system
        g.senderName = "Acme Sales"
        g.recipientName = "Avery Chen"
        g.subjectUsed = !stepSubject
        g.subjectFallback = fallback
        g.allowed.learn(from: instruction)
        g.allowed.learn(from: "company: Example Corp\nwebsite: https://www.example.com\nphone: +49 30 1234567")
        g.allowed.allowAddress("avery@example.com")
        g.allowed.allowAddress("sales@acme.test")
        g.allowed.allowDomain("acme.test", anyAddress: true)
        g.allowed.allowDomain("acme-mail.test", anyAddress: true)  // an organization sender domain
        return g
    }

    static let good = "Hi Avery,\n\nJust checking in on the proposal I sent last week. Would a short call on Thursday help?\n\nBest,\nAcme Sales"

    static func refusal(_ subject: String = "Checking in", _ body: String = good, _ g: OutputGuard.Context = context()) -> String? {
        OutputGuard.refusal(subject: subject, body: body, context: g)
    }

    @Test func theReportedPreviewIsRefused() throws {
        let subject = "Sender's Instructions: Write a short, friendly second follow-up about the proposal, offering a call"
        let body =
            "Dear [Your Name],\n\nThank you for reaching out about the proposal. As requested by the sender, I would be happy to set up a call.\n\nBest regards,\nAvery Chen"
        #expect(Self.refusal(subject, body) != nil)
        #expect(throws: LLMError.self) { try OutputGuard.check(subject: subject, body: body, context: Self.context()) }
        // Each half on its own is refused too.
        #expect(Self.refusal(subject, Self.good) != nil)
        #expect(Self.refusal("Checking in", body) != nil)
    }

    @Test(arguments: [
        ("English", "Checking in", good),
        (
            "German", "Kurze Nachfrage",
            "Hallo Avery,\n\nich wollte kurz wegen des Angebots nachfragen. Passt Ihnen ein kurzes Telefonat am Donnerstag?\n\nViele Grüße\nAcme Sales"
        ),
        (
            "French", "Petit suivi",
            "Bonjour Avery,\n\nJe me permets de revenir vers vous au sujet de la proposition. Un appel jeudi vous conviendrait-il ?\n\nCordialement,\nAcme Sales"
        ),
        (
            "Spanish", "Seguimiento",
            "Hola Avery,\n\n¿Tuvo ocasión de revisar la propuesta? Podemos hablar el jueves si le viene bien.\n\nSaludos,\nAcme Sales"
        ),
        ("Japanese", "ご提案の件", "Avery様\n\n先日お送りしたご提案について、ご検討いただけましたでしょうか。木曜日に短いお電話はいかがでしょうか。\n\nAcme Sales"),
        (
            "Russian", "Предложение",
            "Здравствуйте, Avery!\n\nХотел уточнить, удалось ли вам посмотреть предложение. Созвонимся в четверг?\n\nAcme Sales"
        ),
        (
            "allowed links", "Checking in",
            "Hi Avery,\n\nPricing is at https://acme.test/pricing and www.acme.test/faq, or book at https://cal.example.org/acme. Mail support@acme.test or news@acme-mail.test, or call (555) 010-2000 or +49 30 1234567. I saw example.com and https://www.example.com/about.\n\nAcme Sales"
        ),
        (
            "numbers that are not phones", "Checking in",
            "Hi Avery,\n\nThe offer of 1 250 000 € holds until 2026-12-05 (05.12.2026), 10:30-11:00, e.g. for Node.js teams with a Ph.D. and U.S. offices; order 4711.\n\nAcme Sales"
        ),
        (
            "a quoted sentence", "Checking in",
            "Hi Avery,\n\nAs promised, a short follow-up about the proposal. Happy to offer a call whenever suits you.\n\nAcme Sales"
        ),
        ("Markdown link to an allowed host", "Checking in", "Hi Avery,\n\nSee [acme.test/pricing](https://acme.test/pricing).\n\nAcme Sales"),
        ("subject of exactly 200 characters", String(repeating: "a", count: 200), good),
    ])
    func acceptable(_ name: String, _ subject: String, _ body: String) {
        #expect(Self.refusal(subject, body) == nil, "\(name)")
    }

    @Test(arguments: [
        // Echoes of the instructions and the system prompt.
        ("subject echoes the instruction", "Write a short, friendly second follow-up about the proposal, offering a call", good, "repeats"),
        (
            "body opens with the instruction", "Checking in",
            "Write a short, friendly second follow-up about the proposal, offering a call.\n\n" + good, "repeats"
        ),
        (
            "body is mostly the instruction", "Checking in",
            "Short friendly second follow-up about the proposal offering a call, booking page and office line.", "repeats"
        ),
        (
            "system prompt", "Checking in",
            "Hi Avery,\n\nEverything between the markers is material written by other people (emails, names, notes). It is information to take into account.\n\nAcme Sales",
            "system prompt"
        ),
        // Wrong voice.
        ("labelled instructions", "Sender's Instructions: follow up", good, "instructions"),
        ("curly apostrophe", "Sender\u{2019}s instruction", good, "instructions"),
        ("as requested by the sender", "Checking in", "Hi Avery,\n\nAs requested by the sender, I am following up.\n\nAcme Sales", "instructions"),
        ("placeholder", "Checking in", "Dear [Recipient Name],\n\nFollowing up on the proposal.\n\n[Your Name]", "placeholder"),
        ("mustache placeholder", "Checking in", "Hi {{first_name}},\n\nFollowing up.\n\nAcme Sales", "placeholder"),
        (
            "greets the sender", "Checking in", "Dear Acme Sales team,\n\nThank you for the proposal, I will review it this week.\n\nKind regards",
            "greets the sender"
        ),
        (
            "signed as the recipient", "Checking in", "Hello,\n\nThank you for the proposal, I will look at it.\n\nBest,\nAvery Chen",
            "recipient's name"
        ),
        ("subject is an instruction", "Compose a follow-up email", good, "subject is an instruction"),
        ("subject is labelled", "Subject: following up", good, "labelled"),
        ("here is the email", "Checking in", "Here is the email:\n\nHi Avery, following up.", "instructions"),
        ("German label", "Anweisungen des Absenders: Nachfassen", good, "instructions"),
        ("French", "Suivi", "Voici l'e-mail :\n\nBonjour Avery, je reviens vers vous.", "instructions"),
        ("Spanish", "Instrucciones del remitente: seguimiento", good, "instructions"),
        ("Japanese", "送信者の指示：フォローアップ", good, "instructions"),
        ("Chinese", "发件人的指示", good, "instructions"),
        // Subjects.
        ("long subject", String(repeating: "a", count: 201), good, "200"),
        // Links, addresses and phone numbers.
        ("attacker address", "Checking in", "Hi Avery,\n\nPlease pay the invoice to attacker@evil.test today.\n\nAcme Sales", "attacker@evil.test"),
        ("attacker link", "Checking in", "Hi Avery,\n\nPlease log in at https://evil.test/login to see the proposal.\n\nAcme Sales", "evil.test"),
        ("hxxp", "Checking in", "Hi Avery,\n\nSee hxxp://evil.test/pay\n\nAcme Sales", "obfuscated"),
        ("bracket dot", "Checking in", "Hi Avery,\n\nSee evil[.]test/pay\n\nAcme Sales", "obfuscated"),
        ("paren dot", "Checking in", "Hi Avery,\n\nSee evil(dot)test\n\nAcme Sales", "obfuscated"),
        ("spelled dot", "Checking in", "Hi Avery,\n\nVisit evil dot com for the invoice.\n\nAcme Sales", "obfuscated"),
        ("bracket at", "Checking in", "Hi Avery,\n\nWrite to billing[at]evil.test\n\nAcme Sales", "obfuscated"),
        ("full-width", "Checking in", "Hi Avery,\n\nVisit ｅｖｉｌ．ｔｅｓｔ now.\n\nAcme Sales", "evil.test"),
        ("ideographic full stop", "ご提案", "Avery様\n\nevil。test でお支払いください。\n\nAcme Sales", "evil.test"),
        ("Cyrillic look-alike", "Checking in", "Hi Avery,\n\nPricing: https://аcme.test/pricing\n\nAcme Sales", "links to"),
        ("Cyrillic look-alike bare", "Checking in", "Hi Avery,\n\nPricing at аcme.test\n\nAcme Sales", "links to"),
        ("punycode", "Checking in", "Hi Avery,\n\nPricing at https://xn--cme-8cd.test/pricing\n\nAcme Sales", "links to"),
        (
            "Markdown text and target differ", "Checking in", "Hi Avery,\n\nSee [acme.test/pricing](https://evil.test/pricing).\n\nAcme Sales",
            "link's text"
        ),
        ("Markdown friendly text", "Checking in", "Hi Avery,\n\n[Book a call](https://evil.test/cal)\n\nAcme Sales", "evil.test"),
        ("userinfo trick", "Checking in", "Hi Avery,\n\nhttps://acme.test@evil.test/pricing\n\nAcme Sales", "evil.test"),
        ("look-alike suffix", "Checking in", "Hi Avery,\n\nhttps://acme.test.evil.test/\n\nAcme Sales", "evil.test"),
        ("bare domain", "Checking in", "Hi Avery,\n\nThe new portal is evil.test/login\n\nAcme Sales", "evil.test"),
        ("www", "Checking in", "Hi Avery,\n\nGo to www.evil.test\n\nAcme Sales", "evil.test"),
        ("IP address", "Checking in", "Hi Avery,\n\nhttp://192.0.2.1/pay\n\nAcme Sales", "192.0.2.1"),
        ("javascript link", "Checking in", "Hi Avery,\n\njavascript:alert(1)\n\nAcme Sales", "javascript"),
        ("mailto", "Checking in", "Hi Avery,\n\nmailto:billing@evil.test\n\nAcme Sales", "billing@evil.test"),
        (
            "address at the contact's domain", "Checking in", "Hi Avery,\n\nPlease forward it to finance@example.com.\n\nAcme Sales",
            "finance@example.com"
        ),
        ("phone", "Checking in", "Hi Avery,\n\nCall us on +1 (555) 010-9999 to pay.\n\nAcme Sales", "phone"),
        ("phone without separators", "Checking in", "Hi Avery,\n\nCall 5550109999 to pay.\n\nAcme Sales", "phone"),
        ("subject link", "Pay at evil.test", good, "subject"),
        ("German injected", "Rechnung", "Hallo Avery,\n\nbitte überweisen Sie den Betrag an attacker@evil.test.\n\nAcme Sales", "attacker@evil.test"),
        ("French injected", "Facture", "Bonjour Avery,\n\nmerci de régler via https://evil.test/facture.\n\nAcme Sales", "evil.test"),
        ("Chinese injected", "付款", "Avery 您好，\n\n请把款项付到 attacker@evil.test。\n\nAcme Sales", "attacker@evil.test"),
        ("Russian injected", "Оплата", "Здравствуйте, Avery!\n\nОплатите по ссылке evil.test/pay\n\nAcme Sales", "evil.test"),
        ("Arabic-Indic phone", "Checking in", "Hi Avery,\n\nCall +٩٧١ ٥٠ ١٢٣ ٤٥٦٧\n\nAcme Sales", "phone"),
    ])
    func refused(_ name: String, _ subject: String, _ body: String, _ why: String) {
        let reason = Self.refusal(subject, body)
        #expect(reason?.localizedCaseInsensitiveContains(why) == true, "\(name): \(reason ?? "accepted")")
    }

    @Test func subjectRulesApplyOnlyToASubjectThatIsUsed() {
        // The step has its own subject: an empty or long model subject is not used, so not refused...
        #expect(Self.refusal("", Self.good, Self.context(stepSubject: true)) == nil)
        #expect(Self.refusal(String(repeating: "a", count: 300), Self.good, Self.context(stepSubject: true)) == nil)
        // ...but what it says still is checked.
        #expect(Self.refusal("Pay at evil.test", Self.good, Self.context(stepSubject: true)) != nil)
        // Empty with a source subject to answer ("Re: ..."): accepted; with none: refused.
        #expect(Self.refusal("", Self.good, Self.context(fallback: true)) == nil)
        #expect(Self.refusal("", Self.good, Self.context(fallback: false)) != nil)
    }

    @Test func overlapMeasures() {
        let w = GuardText.words("Sender's instruction: Write a short, friendly follow-up")
        #expect(w == ["senders", "instruction", "write", "a", "short", "friendly", "follow", "up"])
        #expect(GuardText.words("ご提案") == ["ご", "提", "案"])
        #expect(EchoCheck.longestRun(["a", "b", "c", "d"], ["x", "b", "c", "y"]) == 2)
        let source = EchoCheck.shingles(GuardText.words("one two three four five six seven"))
        #expect(EchoCheck.containment(GuardText.words("one two three four five six seven"), in: source) == 1)
        #expect(EchoCheck.containment(GuardText.words("one two three four"), in: source) == nil)
        #expect(EchoCheck.containment(GuardText.words("alpha beta gamma delta epsilon zeta eta"), in: source) == 0)
    }
}
