import Foundation

/// The days and hours an inbox may send, in its time zone; checked as requests give it.
public struct SendWindow: Codable, Sendable, Equatable {
    public var days: [String]
    public var start: String
    public var end: String

    package static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    package static func validTimezone(_ tz: String?, _ param: String) throws -> String? {
        guard let tz else { return nil }
        guard TimeZone.knownTimeZoneIdentifiers.contains(tz) || tz == "UTC", TimeZone(identifier: tz) != nil else {
            throw NudgeError.validation(param, "\(param) must be an IANA time zone such as America/New_York.")
        }
        return tz
    }

    package static func valid(_ w: SendWindow?) throws -> SendWindow? {
        guard var w else { return nil }
        w.days = w.days.map { $0.lowercased() }
        guard !w.days.isEmpty else { throw NudgeError.validation("send_window.days", "send_window.days must name at least one day.") }
        for (i, d) in w.days.enumerated() where !dayNames.contains(d) {
            throw NudgeError.validation("send_window.days[\(i)]", "send_window.days[\(i)] must be one of mon, tue, wed, thu, fri, sat, sun.")
        }
        w.days = dayNames.filter(w.days.contains)
        guard let s = ScheduleMath.minutes(w.start) else {
            throw NudgeError.validation("send_window.start", "send_window.start must be HH:MM (24-hour).")
        }
        guard let e = ScheduleMath.minutes(w.end) else { throw NudgeError.validation("send_window.end", "send_window.end must be HH:MM (24-hour).") }
        guard s < e else { throw NudgeError.validation("send_window.end", "send_window.end must be after send_window.start.") }
        return w
    }
}
