import Foundation
import Hummingbird
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeWorkers

package struct InboxesAPI {
    package let store: InboxStore
    package let clock: any NudgeClock
    /// Inboxes may be created on any domain (see `AppConfig.anySenderDomain`).
    package let anyDomain: Bool

    package struct CreateBody: Decodable {
        package let address: String?
        package let display_name: String?
        package let timezone: String?
        package let send_window: SendWindow?
        package let daily_send_limit: Int?
        package let pacing: JSONValue?
    }

    package static func validLimit(_ n: Int?) throws -> Int? {
        guard let n else { return nil }
        guard n > 0 && n <= 1_000_000 else { throw NudgeError.validation("daily_send_limit", "daily_send_limit must be a positive integer.") }
        return n
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/inboxes", .inboxesWrite) { req, ctx in
            let b = try await JSONCoding.decode(CreateBody.self, from: req)
            let address = try Mailbox.require(b.address, "address")
            let name = try b.display_name.map { try Validate.name($0, "display_name") }
            let tz = try SendWindow.validTimezone(b.timezone ?? "UTC", "timezone")!
            let inbox = try await store.create(
                org: ctx.org, address: address, domain: MessageIDs.domain(of: address), displayName: name, timezone: tz,
                window: try SendWindow.valid(b.send_window), dailyLimit: try Self.validLimit(b.daily_send_limit),
                pacing: try b.pacing.flatMap { $0 == .null ? nil : try InboxPacing.validated($0) }, anyDomain: anyDomain, now: clock.now())
            return try JSONCoding.response(inbox, status: .created)
        }
        r.get("/v1/inboxes", .inboxesRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/inboxes/:id", .inboxesRead) { _, ctx in
            let id = try ctx.id("id", .inb, what: "inbox")
            guard let inbox = try await store.get(org: ctx.org, id: id) else { throw NudgeError.notFound("inbox") }
            return try JSONCoding.response(inbox)
        }
        r.patch("/v1/inboxes/:id", .inboxesWrite) { req, ctx in
            let id = try ctx.id("id", .inb, what: "inbox")
            let body = try PatchBody(try await JSONCoding.decode(JSONValue.self, from: req))
            if body.fields["address"] != nil {
                throw NudgeError.validation("address", "An inbox's address cannot change; create another inbox.")
            }
            var patch = InboxStore.Patch()
            patch.displayName = try body.string("display_name").update.map { try $0.map { try Validate.name($0, "display_name") } }
            if case .value(let tz) = try body.string("timezone") {
                patch.timezone = try SendWindow.validTimezone(tz, "timezone")
            } else if case .null = try body.string("timezone") {
                throw NudgeError.validation("timezone", "timezone cannot be null.")
            }
            patch.window = try body.decode("send_window", as: SendWindow.self).update.map { try SendWindow.valid($0) }
            patch.dailyLimit = try body.int("daily_send_limit").update.map { try Self.validLimit($0) }
            if let raw = body.fields["pacing"] { patch.pacing = .some(raw == .null ? nil : try InboxPacing.validated(raw)) }
            switch body.fields["paused"] {
            case nil: break
            case .bool(let b)?: patch.paused = b
            default: throw NudgeError.validation("paused", "paused must be true (pause the inbox) or false (resume it).")
            }
            guard let inbox = try await store.update(org: ctx.org, id: id, patch: patch, now: clock.now()) else { throw NudgeError.notFound("inbox") }
            return try JSONCoding.response(inbox)
        }
    }

    package init(store: InboxStore, clock: any NudgeClock, anyDomain: Bool) {
        self.store = store
        self.clock = clock
        self.anyDomain = anyDomain
    }
}
