import Foundation
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// Send windows in local time, across daylight-saving changes, and the preview dry run.
@Suite struct ScheduleTests {
    static let ny = TimeZone(identifier: "America/New_York")!
    static let weekdays = SendWindow(days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "17:00")

    static func local(_ s: String, _ tz: TimeZone = ny) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = tz
        let p = s.split(whereSeparator: { "- :".contains($0) }).map { Int($0)! }
        return c.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4]))!
    }

    @Test func windowOpensAtNineLocalOnBothSidesOfTheSpringChange() {
        // Friday 2027-03-12 18:00 EST: next opening Monday 2027-03-15 09:00 EDT (clocks moved on the 14th).
        let opening = ScheduleMath.nextOpening(atOrAfter: Self.local("2027-03-12 18:00"), window: Self.weekdays, timeZone: Self.ny)
        #expect(opening == Self.local("2027-03-15 09:00"))
        #expect(opening.timeIntervalSince1970 == 1_805_115_600)  // 13:00 UTC: EDT is UTC-4
        let before = ScheduleMath.nextOpening(atOrAfter: Self.local("2027-03-05 18:00"), window: Self.weekdays, timeZone: Self.ny)
        #expect(before.timeIntervalSince1970 == 1_804_514_400)  // Monday 03-08 14:00 UTC: EST is UTC-5
    }

    @Test func autumnChangeAndInsideAndWeekend() {
        let inside = Self.local("2027-11-08 10:30")
        #expect(ScheduleMath.nextOpening(atOrAfter: inside, window: Self.weekdays, timeZone: Self.ny) == inside)
        let saturday = Self.local("2027-11-06 12:00")  // clocks go back on Sunday 11-07
        #expect(ScheduleMath.nextOpening(atOrAfter: saturday, window: Self.weekdays, timeZone: Self.ny) == Self.local("2027-11-08 09:00"))
        #expect(ScheduleMath.nextOpening(atOrAfter: saturday, window: nil, timeZone: Self.ny) == saturday)
        #expect(ScheduleMath.localDay(Self.local("2027-11-08 23:30"), Self.ny) == "2027-11-08")
        #expect(ScheduleMath.localDay(Self.local("2027-01-05 19:30"), Self.ny) == "2027-01-05")
        #expect(ScheduleMath.localDay(Self.local("2027-01-05 19:30"), TimeZone(identifier: "Asia/Tokyo")!) == "2027-01-06")
    }

    /// Subjects are one line: the ASCII fast path and the general one agree.
    @Test(arguments: [
        ("Following up", "Following up"), ("  Padded\t", "Padded"), ("two\nlines", "two lines"), ("a\r\nb", "a  b"),
        ("Grüße aus Köln", "Grüße aus Köln"), ("tab\tinside", "tab\tinside"), ("x\u{2028}y", "x y"), ("", ""),
    ])
    func subjectsAreOneLine(input: String, expected: String) {
        #expect(Composer.oneLine(input) == expected)
    }

    @Test func dispatchWaitsForTheContactsWindow() async throws {
        try await Harness.run { h in
            // The harness clock starts at a fixed instant; put the window two hours later in UTC.
            let start = h.clock.now()
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = .gmt
            let hour = cal.component(.hour, from: start)
            let open = String(format: "%02d:00", (hour + 2) % 24)
            let close = String(format: "%02d:59", (hour + 2) % 24)
            let inbox = try await h.inbox(
                extra: #", "send_window": {"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "\#(open)", "end": "\#(close)"}"#)
            let e = try await h.call(
                .post, "/v1/sequences/enrollments/",
                """
                {"inbox_id": "\(inbox)", "recipient": {"email": "window@example.com"}, "emails": [{"delay_days": 0, "subject": "Hi", "body": "Hello"}]}
                """)
            _ = try await h.advance(seconds: 60)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")["next_step"]?.number == 0)
            _ = try await h.advance(seconds: 2 * 3_600)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(e.id)")["state"]?.string == "completed")
        }
    }

    @Test func previewRendersTemplatesAndSendTimesWithoutSendingOrCreating() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let seq = try await h.call(
                .post, "/v1/sequences/",
                """
                {"name": "Welcome", "sender_inbox_id": "\(inbox)", "emails": [
                  {"delay_days": 1, "subject": "Hello {{contact.first_name}}", "body": "Hi {{contact.first_name}} at {{contact.fields.company}}, from {{inbox.display_name}}."},
                  {"type": "reminder", "delay_days": 2, "note": "Call them"}]}
                """
            ).id
            _ = try await h.call(
                .post, "/v1/contacts/", #"{"full_name": "Avery Chen", "emails": [{"address": "avery@example.com"}], "fields": {"company": "Globex"}}"#
            )
            let p = try await h.call(.post, "/v1/sequences/\(seq)/preview/", #"{"recipient": {"email": "avery@example.com"}}"#)
            #expect(p.status == 200, "\(p.body)")
            #expect(p["steps"]?[0]?["subject"]?.string == "Hello Avery")
            #expect(p["steps"]?[0]?["body"]?.string == "Hi Avery at Globex, from Acme Sales.")
            #expect(p["steps"]?[1]?["note"]?.string == "Call them")
            let first = RFC3339.parse(p["steps"]?[0]?["send_at"]?.string ?? "")
            #expect(first == h.clock.now().addingTimeInterval(86_400))
            // An unknown address previews but is not created.
            let unknown = try await h.call(.post, "/v1/sequences/\(seq)/preview/", #"{"recipient": {"email": "new@example.com"}}"#)
            #expect(unknown.status == 200)
            #expect(try await h.call(.get, "/v1/contacts/?email=new@example.com")["data"] == .array([]))
            #expect(try await h.call(.get, "/v1/events/?type=message.sent")["data"] == .array([]))
        }
    }
}
