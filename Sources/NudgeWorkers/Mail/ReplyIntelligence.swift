import Foundation
import NudgeCore
import NudgeMIME
import NudgeStore

extension ReplyFacts {
    /// What the rules read, as stored (`intent_source` `rules`).
    package init(_ a: ReplyAnalysis) {
        self.init(
            signature: a.signature, intent: a.intent.kind.rawValue, source: "rules", confidence: a.intent.confidence,
            referrals: Referred.json(a.intent.referrals), returnDate: a.returnDate?.date.description,
            returnSentence: a.returnDate.map { String($0.sentence.prefix(1000)) })
    }

    /// The fields `message.received` carries.
    package var eventFields: [String: JSONValue] {
        [
            "intent": .string(intent), "intent_source": .string(source), "intent_confidence": .number(confidence),
            "referrals": referrals.isEmpty ? .array([]) : (JSONValue.parse(referrals) ?? .array([])),
            "return_date": .str(returnDate), "return_sentence": .str(returnSentence),
        ]
    }
}

/// The people a referral names, as `messages.referrals` stores them and as a `reply_intent`
/// rule enrolls them (the rules' label and the model's alike).
package enum Referred {
    /// A JSON array of `{"email", "name"}`; empty for no one.
    package static func json(_ people: [Referral.Contact]) -> String {
        people.isEmpty ? "" : JSONValue.array(people.map { .object(["email": .str($0.email), "name": .str($0.name)]) }).serialized
    }

    /// Those with an address: a rule can enroll no one else.
    package static func enrollable(_ people: [Referral.Contact]) -> [WorkflowRuleStore.ReferredPerson] {
        people.compactMap { p in p.email.map { WorkflowRuleStore.ReferredPerson(email: $0, name: p.name) } }
    }
}

/// When an out-of-office hold ends, and when the held step is then due.
package enum HoldSchedule {
    /// The hold's end: the return day plus a grace of one send-window day, that is the opening
    /// of the inbox's first send-window day after the first one on or after the return day (the
    /// person's first day back is left to them). Without a window, days are calendar days and
    /// the hold ends at the start of the day after the return day. With no return date, the
    /// hold lasts `defaultDays` from the notice. Calendar arithmetic in `timeZone`, so a
    /// daylight-saving change keeps the window's local hour.
    package static func heldUntil(returnDay: CalendarDay?, received: Date, defaultDays: Int, window: SendWindow?, timeZone: TimeZone) -> Date {
        guard let returnDay else { return received.addingTimeInterval(Double(defaultDays) * 86_400) }
        let cal = ScheduleMath.calendar(timeZone)
        let start =
            cal.date(from: DateComponents(year: returnDay.year, month: returnDay.month, day: returnDay.day))
            ?? received
        let firstDayBack = ScheduleMath.nextOpening(atOrAfter: start, window: window, timeZone: timeZone)
        let end = ScheduleMath.nextOpening(atOrAfter: ScheduleMath.startOfNextDay(after: firstDayBack, timeZone), window: window, timeZone: timeZone)
        return max(end, received)
    }

    /// The step's due time after the hold: its remaining wait when the notice came (counted from
    /// the end of a hold already running, which a second notice replaces) added to the new end.
    package static func nextDue(heldUntil: Date, dueAt: Date, received: Date, previousHoldEnd: Date?) -> Date {
        let remaining = max(0, dueAt.timeIntervalSince(max(received, previousHoldEnd ?? received)))
        return heldUntil.addingTimeInterval(remaining)
    }
}
