import Foundation
import Hummingbird

struct InboxesAPI {
    let store: InboxStore
    let clock: any NudgeClock
    /// Inboxes may be created on any domain (see `AppConfig.anySenderDomain`).
    let anyDomain: Bool

    struct CreateBody: Decodable {
        let address: String?
        let display_name: String?
        let timezone: String?
        let send_window: SendWindow?
        let daily_send_limit: Int?
    }

    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    static func validTimezone(_ tz: String?, _ param: String) throws -> String? {
        guard let tz else { return nil }
        guard TimeZone.knownTimeZoneIdentifiers.contains(tz) || tz == "UTC", TimeZone(identifier: tz) != nil else {
            throw APIError.validation(param, "\(param) must be an IANA time zone such as America/New_York.")
        }
        return tz
    }

    static func validWindow(_ w: SendWindow?) throws -> SendWindow? {
        guard var w else { return nil }
        w.days = w.days.map { $0.lowercased() }
        guard !w.days.isEmpty else { throw APIError.validation("send_window.days", "send_window.days must name at least one day.") }
        for (i, d) in w.days.enumerated() where !dayNames.contains(d) {
            throw APIError.validation("send_window.days[\(i)]", "send_window.days[\(i)] must be one of mon, tue, wed, thu, fri, sat, sun.")
        }
        w.days = dayNames.filter(w.days.contains)
        guard let s = ScheduleMath.minutes(w.start) else { throw APIError.validation("send_window.start", "send_window.start must be HH:MM (24-hour).") }
        guard let e = ScheduleMath.minutes(w.end) else { throw APIError.validation("send_window.end", "send_window.end must be HH:MM (24-hour).") }
        guard s < e else { throw APIError.validation("send_window.end", "send_window.end must be after send_window.start.") }
        return w
    }

    static func validLimit(_ n: Int?) throws -> Int? {
        guard let n else { return nil }
        guard n > 0 && n <= 1_000_000 else { throw APIError.validation("daily_send_limit", "daily_send_limit must be a positive integer.") }
        return n
    }

    func register(_ r: ScopedRouter) {
        r.post("/v1/inboxes", .inboxesWrite) { req, ctx in
            let b = try await JSONCoding.decode(CreateBody.self, from: req)
            let address = try Mailbox.require(b.address, "address")
            let name = try b.display_name.map { try Validate.name($0, "display_name") }
            let tz = try Self.validTimezone(b.timezone ?? "UTC", "timezone")!
            let inbox = try await store.create(org: ctx.org, address: address, displayName: name, timezone: tz,
                                               window: try Self.validWindow(b.send_window), dailyLimit: try Self.validLimit(b.daily_send_limit),
                                               anyDomain: anyDomain, now: clock.now())
            return try JSONCoding.response(inbox, status: .created)
        }
        r.get("/v1/inboxes", .inboxesRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/inboxes/:id", .inboxesRead) { _, ctx in
            let id = try ctx.id("id", .inb, what: "inbox")
            guard let inbox = try await store.get(org: ctx.org, id: id) else { throw APIError.notFound("inbox") }
            return try JSONCoding.response(inbox)
        }
        r.patch("/v1/inboxes/:id", .inboxesWrite) { req, ctx in
            let id = try ctx.id("id", .inb, what: "inbox")
            let body = try PatchBody(try await JSONCoding.decode(JSONValue.self, from: req))
            if body.fields["address"] != nil {
                throw APIError.validation("address", "An inbox's address cannot change; create another inbox.")
            }
            var patch = InboxStore.Patch()
            patch.displayName = try body.string("display_name").update.map { try $0.map { try Validate.name($0, "display_name") } }
            if case .value(let tz) = try body.string("timezone") { patch.timezone = try Self.validTimezone(tz, "timezone") }
            else if case .null = try body.string("timezone") { throw APIError.validation("timezone", "timezone cannot be null.") }
            patch.window = try body.decode("send_window", as: SendWindow.self).update.map { try Self.validWindow($0) }
            patch.dailyLimit = try body.int("daily_send_limit").update.map { try Self.validLimit($0) }
            guard let inbox = try await store.update(org: ctx.org, id: id, patch: patch, now: clock.now()) else { throw APIError.notFound("inbox") }
            return try JSONCoding.response(inbox)
        }
    }
}
