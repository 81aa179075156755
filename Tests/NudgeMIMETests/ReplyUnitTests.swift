import Foundation
import Testing

@testable import NudgeMIME

@Suite struct CalendarDayTests {
    @Test func weekdaysAndArithmetic() {
        let d = CalendarDay(year: 2026, month: 12, day: 11)
        #expect(d.weekday == 5)
        #expect(d.adding(days: 1).isWorkingDay == false)
        #expect(d.adding(days: 1).workingDayOnOrAfter == CalendarDay(year: 2026, month: 12, day: 14))
        #expect(CalendarDay(year: 2026, month: 12, day: 31).adding(days: 1) == CalendarDay(year: 2027, month: 1, day: 1))
        #expect(CalendarDay.valid(year: 2026, month: 2, day: 29) == nil)
        #expect(CalendarDay.valid(year: 2028, month: 2, day: 29) != nil)
        #expect(CalendarDay(daysSinceEpoch: d.daysSinceEpoch) == d)
    }

    @Test func dayOfAnInstantDependsOnTheZone() {
        let instant = MailDate.parse("Thu, 03 Dec 2026 23:30:00 -0800")!
        #expect(CalendarDay(instant, in: TimeZone(identifier: "America/Los_Angeles")!) == CalendarDay(year: 2026, month: 12, day: 3))
        #expect(CalendarDay(instant, in: TimeZone(identifier: "Europe/Berlin")!) == CalendarDay(year: 2026, month: 12, day: 4))
    }
}

@Suite struct ReturnDateTests {
    static let sent = MailDate.parse("Thu, 03 Dec 2026 09:00:00 +0000")!
    static let london = TimeZone(identifier: "Europe/London")!

    static func day(_ text: String, sent: Date = sent, tz: TimeZone = london, subject: String = "Out of office") -> String? {
        OutOfOffice.returnDate(subject: subject, text: text, sent: sent, timeZone: tz)?.date.description
    }

    /// The examples of the issue, word for word.
    @Test func issueExamples() {
        #expect(Self.day("I am away from 7 to 11 December.") == "2026-12-14")
        #expect(Self.day("I will be back on 9 December.") == "2026-12-09")
        #expect(Self.day("I am out until Wednesday 9 December inclusive.") == "2026-12-10")
        #expect(Self.day("I am out until 9 December.") == "2026-12-09")
        #expect(Self.day("Ich bin bis einschließlich 9. Dezember nicht da.") == "2026-12-10")
        #expect(Self.day("Je suis absent jusqu'au 9 décembre inclus.") == "2026-12-10")
    }

    @Test func sentenceAndLanguageAreReported() throws {
        let r = try #require(
            OutOfOffice.returnDate(
                subject: "Automatic reply", text: "Thanks for your note.\n\nI'm back on 9 December. For urgent matters call Ann.", sent: Self.sent,
                timeZone: Self.london))
        #expect(r.sentence == "I'm back on 9 December.")
        #expect(r.language == .en)
        #expect(r.date == CalendarDay(year: 2026, month: 12, day: 9))
    }

    @Test func numericDatesFollowTheSendersConvention() {
        let ny = TimeZone(identifier: "America/New_York")!
        #expect(Self.day("I'm out until 12/14.", tz: ny) == "2026-12-14")
        #expect(Self.day("I'm out until 14/12.", tz: ny) == "2026-12-14")  // only one reading is a date
        #expect(Self.day("Back on 01/04.", tz: ny) == "2027-01-04")
        #expect(Self.day("Back on 04/01.", tz: Self.london) == "2027-01-04")
        #expect(Self.day("Ich bin ab 4.1. wieder da.") == "2027-01-04")
    }

    @Test func anImplausibleReadingGivesWay() {
        // A US sender whose zone is London: 12/07 as 12 July is seven months away, 7 December four days.
        #expect(Self.day("I'm back on 12/07.") == "2026-12-07")
    }

    @Test func schedulesAreNotAbsences() {
        #expect(Self.day("Thanks! Our support desk is open Monday to Friday, 9:00-17:00.") == nil)
        #expect(Self.day("<p>I am out of the office until <b>14 December</b>.</p>") == "2026-12-14")
        #expect(Self.day("Back on 1 March 2029.") == nil)
    }

    @Test func yearlessDatesAreTheNextOccurrence() {
        #expect(Self.day("Back on 2 December.") == "2027-12-02")
        #expect(Self.day("Back on 4 January.") == "2027-01-04")
        #expect(Self.day("Back on 4 January 2027.") == "2027-01-04")
    }

    @Test func relativeDates() {
        #expect(Self.day("I'm out until the 14th.") == "2026-12-14")
        #expect(Self.day("Back next Monday.") == "2026-12-07")
        #expect(Self.day("Back in two weeks.") == "2026-12-17")
        #expect(Self.day("Back tomorrow.") == "2026-12-04")
        #expect(Self.day("I'm out of the office next week.") == "2026-12-14")
        #expect(Self.day("I'm away for the rest of the week.") == "2026-12-07")
        #expect(Self.day("I'm away this week, back next week.") == "2026-12-07")
        #expect(Self.day("Je serai de retour lundi 14 décembre.") == "2026-12-14")
    }

    /// A Friday night in Los Angeles is Saturday in Berlin: "next Monday" is counted from the local day.
    @Test func theZoneDecidesTheMessageDay() {
        let sent = MailDate.parse("Fri, 04 Dec 2026 23:30:00 -0800")!
        #expect(Self.day("Back on Friday.", sent: sent, tz: TimeZone(identifier: "America/Los_Angeles")!) == "2026-12-11")
        #expect(Self.day("Back on Monday.", sent: sent, tz: TimeZone(identifier: "Europe/Berlin")!) == "2026-12-07")
    }

    @Test func noDateNoResult() {
        #expect(Self.day("I am out of the office with limited access to email.") == nil)
        #expect(Self.day("Please call +49 89 1234 5678 or write to help@acme.com.") == nil)
        #expect(Self.day("I'll reply on my return.", subject: "Automatic reply: Our call on 9 December") == nil)
        #expect(Self.day("Je suis absent à partir du 7 décembre.") == nil)
    }

    @Test func fromAParsedMessage() throws {
        let raw =
            "From: Ann <ann@acme.example>\r\nTo: sam@nudge.example\r\nSubject: Automatic reply: Hello\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\nAuto-Submitted: auto-replied\r\n\r\nI am out of the office until 14/12/2026.\r\n"
        let m = InboundMessage.analyze(Array(raw.utf8))
        #expect(OutOfOffice.returnDate(of: m, timeZone: Self.london)?.date.description == "2026-12-14")
        #expect(ReplyIntent.classify(m).kind == .outOfOffice)
    }

    @Test func oneAnalysisPerMessage() {
        let ooo =
            "From: Ann <ann@acme.example>\r\nSubject: Automatic reply\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\nAuto-Submitted: auto-replied\r\n\r\nBack on 9 December.\r\n"
        let a = ReplyAnalysis.analyze(InboundMessage.analyze(Array(ooo.utf8)), timeZone: Self.london)
        #expect(a.intent.kind == .outOfOffice)
        #expect(a.returnDate?.date == CalendarDay(year: 2026, month: 12, day: 9))
        let human =
            "From: Bo <bo@acme.example>\r\nSubject: Re: Hello\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n\r\nPlease remove me from your list.\r\n\r\nSent from my iPhone\r\n"
        let b = ReplyAnalysis.analyze(InboundMessage.analyze(Array(human.utf8)), timeZone: Self.london)
        #expect(b.intent.kind == .unsubscribeRequest)
        #expect(b.unsubscribeRequested)
        #expect(b.returnDate == nil)
        #expect(b.body == "Please remove me from your list.")
        #expect(b.signature == "Sent from my iPhone")
    }
}

@Suite struct ReplyRuleTests {
    @Test func languageDetection() {
        #expect(ReplyLanguage.detect("Ich bin bis zum 9.12. nicht im Büro") == .de)
        #expect(ReplyLanguage.detect("Je suis absent jusqu'au 9 décembre") == .fr)
        #expect(ReplyLanguage.detect("Estoy fuera de la oficina hasta el lunes") == .es)
        #expect(ReplyLanguage.detect("Sono fuori ufficio fino al 9 dicembre") == .it)
        #expect(ReplyLanguage.detect("Ik ben tot maandag afwezig") == .nl)
        #expect(ReplyLanguage.detect("Estou fora do escritório até segunda") == .pt)
        #expect(ReplyLanguage.detect("Jag är tillbaka på måndag") == .sv)
        #expect(ReplyLanguage.detect("") == .en)
    }

    @Test func signatureKeepsBothHalves() {
        let s = Signature.split("Works for me.\n\nBest regards,\nAnn\n+44 20 7946 0000")
        #expect(s.body == "Works for me.")
        #expect(s.signature == "Best regards,\nAnn\n+44 20 7946 0000")
        #expect(Signature.split("Thanks!").signature == "")
    }

    @Test func referralsSkipTheSender() {
        let r = ReplyIntent.classify(
            replyText: "I've left, please contact maria@acme.com. My new address is ann@other.example.", sender: "ann@other.example")
        #expect(r.kind == .referral)
        #expect(r.referrals == [Referral.Contact(name: nil, email: "maria@acme.com")])
    }

    @Test func automaticDepartureNoticesAreReferrals() {
        let left = ReplyIntent.classify(
            replyText: "Thank you for your email. I have left Acme; please contact Maria Lopez (maria.lopez@acme.com).", isAutoReply: true)
        #expect(left.kind == .referral)
        #expect(left.referrals == [Referral.Contact(name: "Maria Lopez", email: "maria.lopez@acme.com")])
        // An absence that names a stand-in is still an absence.
        let away = ReplyIntent.classify(
            replyText: "I am out of the office until Monday. For urgent matters contact support@acme.com.", isAutoReply: true)
        #expect(away.kind == .outOfOffice)
    }

    @Test func unconfidentIsOther() {
        let r = ReplyIntent.classify(replyText: "ok")
        #expect(r.kind == .other)
        #expect(r.confidence == 0)
    }

    /// Long pasted text is read up to a cap: the rules stay fast (about 0.1 s each in a debug build).
    @Test func longInputIsBounded() {
        let sent = MailDate.parse("Thu, 03 Dec 2026 09:00:00 +0000")!
        let inputs = [
            String(repeating: "I am out until 9 December and back on 10 December. ", count: 2000),
            String(repeating: "the ", count: 30000) + "until 9 December", String(repeating: "Best regards,\n", count: 5000),
        ]
        let start = Date()
        for s in inputs {
            _ = OutOfOffice.returnDate(subject: s, text: s, sent: sent, timeZone: TimeZone(identifier: "UTC")!)
            _ = ReplyIntent.classify(replyText: s)
            _ = Signature.split(s)
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func quotedFootersAreNotRequests() {
        let text = "Sounds good.\n\nOn Tue, 1 Dec 2026, Sam wrote:\n> To unsubscribe, reply STOP.\n> Please remove me from the list? No."
        #expect(Unsubscribe.isRequested(ReplyText.extract(text)) == false)
    }
}
