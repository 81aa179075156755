import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct ContactsAPI {
    package let store: ContactStore
    package let inboxes: InboxStore
    package let clock: any NudgeClock

    package struct EmailInput: Decodable {
        let label: String?
        let address: String?
    }
    package struct Body: Decodable {
        package let inbox_id: String?
        package let full_name: String?
        package let emails: [EmailInput]?
        package let notes: String?
        package let labels: [String]?
        package let fields: [String: String]?
        package let timezone: String?
    }
    package struct LabelsBody: Decodable {
        let add: [String]?
        let remove: [String]?
    }
    package struct Deleted: Encodable {
        let id: String
        let deleted: Bool
    }

    package static func emails(_ raw: [EmailInput]?, required: Bool) throws -> [ContactEmail] {
        guard let raw, !raw.isEmpty else {
            if required { throw NudgeError.validation("emails", "emails must list at least one address.") }
            return []
        }
        guard raw.count <= 20 else { throw NudgeError.validation("emails", "emails may list at most 20 addresses.") }
        var seen = Set<String>()
        return try raw.enumerated().map { i, e in
            let address = try Mailbox.require(e.address, "emails[\(i)].address")
            guard seen.insert(Mailbox.key(address)).inserted else {
                throw NudgeError.validation("emails[\(i)].address", "emails[\(i)].address repeats an address given earlier.")
            }
            let label = try e.label.map { try Validate.name($0, "emails[\(i)].label", max: 64) }
            return ContactEmail(label: label, address: address)
        }
    }

    package static func labels(_ raw: [String]?, _ param: String) throws -> [String]? {
        guard let raw else { return nil }
        guard raw.count <= 100 else { throw NudgeError.validation(param, "\(param) may list at most 100 labels.") }
        var out: [String] = []
        for (i, l) in raw.enumerated() {
            try label(l, "\(param)[\(i)]")
            if !out.contains(l) { out.append(l) }
        }
        return out
    }

    package static func label(_ l: String, _ p: String) throws {
        guard !l.trimmingCharacters(in: .whitespaces).isEmpty else { throw NudgeError.validation(p, "\(p) must not be empty.") }
        try Validate.text(l, p, max: 64, singleLine: true)
    }

    package static func fields(_ raw: JSONValue?) throws -> [String: String]? {
        guard let raw else { return nil }
        guard case .object(let o) = raw else { throw NudgeError.validation("fields", "fields must be an object of strings.") }
        guard o.count <= 50 else { throw NudgeError.validation("fields", "fields may have at most 50 keys.") }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard !k.isEmpty, k.count <= 64,
                k.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
            else {
                throw NudgeError.validation("fields.\(k)", "Field names must be 1 to 64 letters, digits or underscores.")
            }
            guard case .string(let s) = v else { throw NudgeError.validation("fields.\(k)", "fields.\(k) must be a string.") }
            try Validate.text(s, "fields.\(k)", max: 2_000)
            out[k] = s
        }
        return out
    }

    package func input(_ req: Request, _ ctx: TenantContext, patch: Bool) async throws -> (ContactInput, PatchBody) {
        let json = try await JSONCoding.decode(JSONValue.self, from: req)
        let body = try PatchBody(json)
        if patch { try json.rejectNull("inbox_id", "emails", "labels") }
        let b = try JSONCoding.decode(Body.self, from: try JSONCoding.encoder.encode(JSONValue.object(body.fields.filter { $0.key != "fields" })))
        var inboxID: String?
        if let id = b.inbox_id {
            guard ID.isValid(id, .inb), try await inboxes.get(org: ctx.org, id: id) != nil else {
                throw NudgeError.validation("inbox_id", "No inbox \(id.prefix(64)) in this organization.")
            }
            inboxID = id
        }
        let input = ContactInput(
            inboxID: inboxID,
            fullName: try body.string("full_name").update.map { try $0.map { try Validate.name($0, "full_name") } },
            emails: try Self.emails(b.emails, required: !patch),
            notes: try body.string("notes").update.map { n in
                try n.map {
                    try Validate.text($0, "notes", max: 10_000)
                    return $0
                }
            },
            labels: try Self.labels(b.labels, "labels"),
            fields: try Self.fields(body.fields["fields"].flatMap { $0 == .null ? nil : $0 }),
            timezone: try body.string("timezone").update.map { try $0.flatMap { try SendWindow.validTimezone($0, "timezone") } })
        return (input, body)
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/contacts", .contactsWrite) { req, ctx in
            let (input, _) = try await input(req, ctx, patch: false)
            let (contact, created) = try await store.upsert(org: ctx.org, input, now: clock.now(), tokenID: ctx.token.tokenID)
            return try JSONCoding.response(contact, status: created ? .created : .ok)
        }
        r.get("/v1/contacts", .contactsRead) { req, ctx in
            let label = try req.query("label")
            let email = try req.query("email")
            if let email, Validate.length(email) > 254 {
                throw NudgeError.validation("email", "email must be at most 254 characters (Unicode code points).")
            }
            return try await store.list(org: ctx.org, email: email, label: label, page: PageRequest(req)).response()
        }
        r.get("/v1/contacts/:id", .contactsRead) { _, ctx in
            guard let c = try await store.get(org: ctx.org, id: try ctx.id("id", .ctc, what: "contact")) else { throw NudgeError.notFound("contact") }
            return try JSONCoding.response(c)
        }
        r.patch("/v1/contacts/:id", .contactsWrite) { req, ctx in
            let id = try ctx.id("id", .ctc, what: "contact")
            let (input, body) = try await input(req, ctx, patch: true)
            if body.fields["emails"] != nil && input.emails.isEmpty {
                throw NudgeError.validation("emails", "emails must list at least one address.")
            }
            guard
                let c = try await store.patch(
                    org: ctx.org, id: id, input, replaceEmails: body.fields["emails"] != nil, now: clock.now(), tokenID: ctx.token.tokenID)
            else {
                throw NudgeError.notFound("contact")
            }
            return try JSONCoding.response(c)
        }
        r.delete("/v1/contacts/:id", .contactsWrite) { _, ctx in
            let id = try ctx.id("id", .ctc, what: "contact")
            guard try await store.delete(org: ctx.org, id: id, now: clock.now()) else { throw NudgeError.notFound("contact") }
            return try JSONCoding.response(Deleted(id: id, deleted: true))
        }
        r.post("/v1/contacts/:id/labels", .contactsWrite) { req, ctx in
            let id = try ctx.id("id", .ctc, what: "contact")
            let b = try await JSONCoding.decode(LabelsBody.self, from: req)
            let add = try Self.labels(b.add, "add") ?? []
            let remove = try Self.labels(b.remove, "remove") ?? []
            guard let c = try await store.changeLabels(org: ctx.org, id: id, add: add, remove: remove, now: clock.now(), tokenID: ctx.token.tokenID)
            else {
                throw NudgeError.notFound("contact")
            }
            return try JSONCoding.response(c)
        }
    }

    package init(store: ContactStore, inboxes: InboxStore, clock: any NudgeClock) {
        self.store = store
        self.inboxes = inboxes
        self.clock = clock
    }
}
