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
    package let credentials: MailCredentials
    package let config: AppConfig

    package struct CreateBody: Decodable {
        package let address: String?
        package let display_name: String?
        package let timezone: String?
        package let send_window: SendWindow?
        package let daily_send_limit: Int?
        package let pacing: JSONValue?
        package let smtp: JSONValue?
        package let imap: JSONValue?
    }

    /// The request's `smtp` object with its password sealed for this inbox, once its host is one
    /// mail accounts may use (checked again whenever the dispatcher connects).
    private func sealedSMTP(_ value: JSONValue, org: String, inboxID: String, passwordRequired: Bool) async throws -> SealedAccount<SMTPAccount> {
        let (account, password) = try SMTPAccount.validated(value, passwordRequired: passwordRequired)
        return try await sealed(account, host: account.host, port: account.port, password: password, service: "smtp", org: org, inboxID: inboxID)
    }

    /// The same for `imap`, the account replies are read from.
    private func sealedIMAP(_ value: JSONValue, org: String, inboxID: String, passwordRequired: Bool) async throws -> SealedAccount<IMAPAccount> {
        let (account, password) = try IMAPAccount.validated(value, passwordRequired: passwordRequired)
        return try await sealed(account, host: account.host, port: account.port, password: password, service: "imap", org: org, inboxID: inboxID)
    }

    private func sealed<A: Sendable & Equatable>(
        _ account: A, host: String, port: Int, password: String?, service: String, org: String, inboxID: String
    ) async throws -> SealedAccount<A> {
        do { _ = try await MailHost.checked(host, port: port, allowPrivate: config.allowPrivateMailHosts) } catch {
            throw NudgeError.validation("\(service).host", "\(error)")
        }
        return SealedAccount(
            account: account, sealedPassword: try password.map { try credentials.seal($0, org: org, inboxID: inboxID, service: service) },
            keyID: password == nil ? nil : credentials.keyID)
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
            let id = ID.make(.inb)
            var smtp: SealedAccount<SMTPAccount>?
            if let raw = b.smtp, raw != .null { smtp = try await sealedSMTP(raw, org: ctx.org, inboxID: id, passwordRequired: true) }
            var imap: SealedAccount<IMAPAccount>?
            if let raw = b.imap, raw != .null { imap = try await sealedIMAP(raw, org: ctx.org, inboxID: id, passwordRequired: true) }
            let inbox = try await store.create(
                org: ctx.org, address: address, domain: MessageIDs.domain(of: address), displayName: name, timezone: tz,
                window: try SendWindow.valid(b.send_window), dailyLimit: try Self.validLimit(b.daily_send_limit),
                pacing: try b.pacing.flatMap { $0 == .null ? nil : try InboxPacing.validated($0) }, id: id, smtp: smtp, imap: imap,
                anyDomain: anyDomain,
                now: clock.now())
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
            if let raw = body.fields["smtp"] {
                patch.smtp = .some(raw == .null ? nil : try await sealedSMTP(raw, org: ctx.org, inboxID: id, passwordRequired: false))
            }
            if let raw = body.fields["imap"] {
                patch.imap = .some(raw == .null ? nil : try await sealedIMAP(raw, org: ctx.org, inboxID: id, passwordRequired: false))
            }
            switch body.fields["paused"] {
            case nil: break
            case .bool(let b)?: patch.paused = b
            default: throw NudgeError.validation("paused", "paused must be true (pause the inbox) or false (resume it).")
            }
            guard let inbox = try await store.update(org: ctx.org, id: id, patch: patch, now: clock.now()) else { throw NudgeError.notFound("inbox") }
            return try JSONCoding.response(inbox)
        }
        r.post("/v1/inboxes/:id/connection/verify", .inboxesWrite) { _, ctx in
            let id = try ctx.id("id", .inb, what: "inbox")
            guard let found = try await store.account(org: ctx.org, id: id) else { throw NudgeError.notFound("inbox") }
            let imap = try await store.imapAccount(org: ctx.org, id: id).map { (org: ctx.org, account: $0.0, sealed: $0.1) }
            guard found != nil || imap != nil else {
                throw NudgeError.validation(
                    "smtp", "This inbox has no mail account of its own to verify: it sends through the server's relay and reads no mailbox.")
            }
            return try JSONCoding.response(
                await AccountCheck(config: config, credentials: credentials, db: store.db).verify(
                    inboxID: id, smtp: found ?? nil, imap: imap, now: clock.now()))
        }
    }

    package init(store: InboxStore, clock: any NudgeClock, anyDomain: Bool, credentials: MailCredentials, config: AppConfig) {
        self.store = store
        self.clock = clock
        self.anyDomain = anyDomain
        self.credentials = credentials
        self.config = config
    }
}
