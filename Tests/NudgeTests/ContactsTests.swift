import Foundation
import HTTPTypes
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// Inboxes and contacts: validation, create-or-update under concurrency, pagination, filters,
/// names, and deletion that keeps the history.
@Suite struct ContactsTests {
    struct Case: Sendable, CustomStringConvertible {
        let what: String
        let body: String
        let param: String
        var mentions: String? = nil
        var description: String { what }
    }

    static func contactBody(address: String, extra: String = "") -> String {
        #"{"full_name": "Avery Chen", "emails": [{"label": "work", "address": "\#(address)"}]\#(extra)}"#
    }

    static func expectRefused(_ h: Harness, _ path: String, _ cases: [Case], method: HTTPRequest.Method = .post) async throws {
        for c in cases {
            let r = try await h.call(method, path, c.body)
            #expect(r.status == 422, "\(c.what): \(r.status) \(r.body)")
            #expect(r.errorType == "validation_error", "\(c.what): \(r.body)")
            #expect(r.errorParam == c.param, "\(c.what): \(r.body)")
            if let m = c.mentions { #expect(r.errorMessage.contains(m), "\(c.what): \(r.errorMessage)") }
        }
    }

    // MARK: - Validation

    @Test func contactValidationNamesTheField() async throws {
        try await Harness.run { h in
            let local65 = String(repeating: "a", count: 65)
            let long =
                String(repeating: "a", count: 64) + "@" + [String](repeating: String(repeating: "b", count: 63), count: 3).joined(separator: ".")
                + ".com"
            let fields51 = (0..<51).map { #""k\#($0)": "v""# }.joined(separator: ", ")
            let address = Fixture.address()
            let cases: [Case] = [
                Case(what: "empty address", body: Self.contactBody(address: ""), param: "emails[0].address"),
                Case(what: "no @", body: Self.contactBody(address: "avery.example.com"), param: "emails[0].address"),
                Case(what: "two @", body: Self.contactBody(address: "a@b@example.com"), param: "emails[0].address"),
                Case(what: "space", body: Self.contactBody(address: "avery chen@example.com"), param: "emails[0].address"),
                Case(what: "over 254", body: Self.contactBody(address: long), param: "emails[0].address"),
                Case(what: "local part over 64", body: Self.contactBody(address: "\(local65)@example.com"), param: "emails[0].address"),
                Case(what: "no dot in domain", body: Self.contactBody(address: "avery@localhost"), param: "emails[0].address"),
                Case(what: "unicode domain", body: Self.contactBody(address: "avery@bücher.example"), param: "emails[0].address", mentions: "xn--"),
                Case(what: "second address bad", body: #"{"emails": [{"address": "\#(address)"}, {"address": "nope"}]}"#, param: "emails[1].address"),
                Case(
                    what: "duplicate addresses", body: #"{"emails": [{"address": "dup@example.com"}, {"address": "dup@EXAMPLE.com"}]}"#,
                    param: "emails[1].address"),
                Case(what: "no emails", body: #"{"full_name": "Avery Chen", "emails": []}"#, param: "emails"),
                Case(
                    what: "unknown inbox", body: Self.contactBody(address: address, extra: #", "inbox_id": "\#(Fixture.unknownID(.inb))""#),
                    param: "inbox_id"),
                Case(what: "malformed inbox", body: Self.contactBody(address: address, extra: #", "inbox_id": "inbox-1""#), param: "inbox_id"),
                Case(
                    what: "unknown timezone", body: Self.contactBody(address: address, extra: #", "timezone": "Mars/Olympus_Mons""#),
                    param: "timezone"),
                Case(what: "empty label", body: Self.contactBody(address: address, extra: #", "labels": [""]"#), param: "labels[0]"),
                Case(
                    what: "long label", body: Self.contactBody(address: address, extra: #", "labels": ["\#(String(repeating: "l", count: 65))"]"#),
                    param: "labels[0]"),
                Case(
                    what: "control character in label", body: Self.contactBody(address: address, extra: #", "labels": ["ok", "bad\u0007label"]"#),
                    param: "labels[1]"),
                Case(what: "non-string field", body: Self.contactBody(address: address, extra: #", "fields": {"x": 5}"#), param: "fields.x"),
                Case(what: "51 fields", body: Self.contactBody(address: address, extra: #", "fields": {\#(fields51)}"#), param: "fields"),
                Case(what: "full_name not a string", body: #"{"full_name": 7, "emails": [{"address": "\#(address)"}]}"#, param: "full_name"),
            ]
            try await Self.expectRefused(h, "/v1/contacts/", cases)
            #expect(try await h.call(.get, "/v1/contacts/").data.isEmpty, "a refused request created a contact")

            // The same body without the faults is accepted (the table tests what it says).
            let inbox = try await h.inbox()
            let ok = try await h.call(
                .post, "/v1/contacts/",
                Self.contactBody(
                    address: address,
                    extra: #", "inbox_id": "\#(inbox)", "timezone": "Europe/Paris", "labels": ["lead"], "fields": {"company": "Acme"}"#))
            #expect(ok.status == 201, "\(ok.body)")
            #expect(ok["fields"]?["company"]?.string == "Acme")
            #expect(ok["timezone"]?.string == "Europe/Paris")
            #expect(ok["labels"] == .array(["lead"]))
            let long64 = try await h.call(.post, "/v1/contacts/", Self.contactBody(address: "\(String(repeating: "a", count: 64))@example.com"))
            #expect(long64.status == 201, "a 64-character local part is valid: \(long64.body)")
            let punycode = try await h.call(.post, "/v1/contacts/", Self.contactBody(address: "avery@xn--bcher-kva.example"))
            #expect(punycode.status == 201, "\(punycode.body)")
        }
    }

    @Test func inboxValidationNamesTheField() async throws {
        try await Harness.run { h in
            func body(_ address: String = "v-\(Fixture.suffix())@acme.test", _ extra: String = "") -> String {
                #"{"address": "\#(address)", "display_name": "Sales", "timezone": "America/New_York"\#(extra)}"#
            }
            let window = #", "send_window": {"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}"#
            let cases: [Case] = [
                Case(what: "bad address", body: body("not-an-address"), param: "address"),
                Case(what: "bad timezone", body: #"{"address": "v-\#(Fixture.suffix())@acme.test", "timezone": "Nowhere/City"}"#, param: "timezone"),
                Case(
                    what: "start after end",
                    body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "send_window": {"days": ["mon"], "start": "17:00", "end": "09:00"}"#),
                    param: "send_window.end"),
                Case(
                    what: "start equals end",
                    body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "send_window": {"days": ["mon"], "start": "09:00", "end": "09:00"}"#),
                    param: "send_window.end"),
                Case(
                    what: "bad day",
                    body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "send_window": {"days": ["funday"], "start": "09:00", "end": "17:00"}"#),
                    param: "send_window.days[0]"),
                Case(
                    what: "bad start",
                    body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "send_window": {"days": ["mon"], "start": "9am", "end": "17:00"}"#),
                    param: "send_window.start"),
                Case(what: "zero limit", body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "daily_send_limit": 0"#), param: "daily_send_limit"),
                Case(
                    what: "negative limit", body: body(#"v-\#(Fixture.suffix())@acme.test"#, #", "daily_send_limit": -5"#), param: "daily_send_limit"),
            ]
            try await Self.expectRefused(h, "/v1/inboxes/", cases)
            #expect(try await h.call(.get, "/v1/inboxes/").data.isEmpty)

            let address = "ok-\(Fixture.suffix())@acme.test"
            let ok = try await h.call(.post, "/v1/inboxes/", body(address, window + #", "daily_send_limit": 200"#))
            #expect(ok.status == 201, "\(ok.body)")
            #expect(ok["send_window"]?["days"] == .array(["mon", "tue"]))
            #expect(ok["daily_send_limit"]?.number == 200)
            let taken = try await h.call(.post, "/v1/inboxes/", body(address.uppercased()))
            #expect(taken.status == 409, "an address is one inbox: \(taken.body)")
            #expect(taken.errorParam == "address")

            // PATCH validates the same way.
            try await Self.expectRefused(
                h, "/v1/inboxes/\(ok.id)/",
                [
                    Case(
                        what: "patch start after end", body: #"{"send_window": {"days": ["mon"], "start": "18:00", "end": "08:00"}}"#,
                        param: "send_window.end"),
                    Case(
                        what: "patch bad day", body: #"{"send_window": {"days": ["mon", "xyz"], "start": "08:00", "end": "18:00"}}"#,
                        param: "send_window.days[1]"),
                    Case(what: "patch timezone", body: #"{"timezone": "Atlantis/Capital"}"#, param: "timezone"),
                    Case(what: "patch limit", body: #"{"daily_send_limit": 0}"#, param: "daily_send_limit"),
                ], method: .patch)
            let unchanged = try await h.call(.get, "/v1/inboxes/\(ok.id)/")
            #expect(unchanged["timezone"]?.string == "America/New_York")
            #expect(unchanged["daily_send_limit"]?.number == 200)
        }
    }

    // MARK: - Create or update

    @Test func addressesOfTwoContactsInOneRequestAre409() async throws {
        try await Harness.run { h in
            let a = Fixture.address("a")
            let b = Fixture.address("b")
            let first = try await h.contact(a, name: "Avery Chen")
            let second = try await h.contact(b, name: "Blake Diaz")
            #expect(first.status == 201 && second.status == 201)
            let both = try await h.call(.post, "/v1/contacts/", #"{"full_name": "Merged", "emails": [{"address": "\#(a)"}, {"address": "\#(b)"}]}"#)
            #expect(both.status == 409, "\(both.body)")
            #expect(both.errorType == "conflict")
            #expect(both.errorMessage.contains(a), "\(both.errorMessage)")
            #expect(both.errorMessage.contains(b), "\(both.errorMessage)")
            // Neither contact changed.
            let after = try await h.call(.get, "/v1/contacts/\(first.id)/")
            #expect(after["full_name"]?.string == "Avery Chen")
            #expect(after["emails"]?.items.count == 1)
            #expect(try await h.call(.get, "/v1/contacts/").data.count == 2)

            // One known address plus a new one: the known contact gains the new address (200).
            let c = Fixture.address("c")
            let grown = try await h.call(
                .post, "/v1/contacts/", #"{"emails": [{"address": "\#(a.uppercased())"}, {"label": "home", "address": "\#(c)"}]}"#)
            #expect(grown.status == 200, "\(grown.body)")
            #expect(grown.id == first.id)
            #expect(grown["emails"]?.items.compactMap { $0["address"]?.string }.map { $0.lowercased() }.sorted() == [a, c].sorted())
        }
    }

    @Test func concurrentUpsertsOfOneNewAddressMakeOneContact() async throws {
        try await Harness.run { h in
            let address = Fixture.address("race")
            let replies = try await h.parallel(20) { i in
                try await h.call(.post, "/v1/contacts/", #"{"full_name": "Racer \#(i)", "emails": [{"address": "\#(address)"}]}"#)
            }
            for r in replies { #expect(r.status == 201 || r.status == 200, "\(r.status) \(r.body)") }
            #expect(Set(replies.map(\.id)).count == 1, "\(Set(replies.map(\.id)))")
            #expect(replies.filter { $0.status == 201 }.count == 1)
            #expect(replies.filter { $0.status == 200 }.count == 19)
            let list = try await h.call(.get, "/v1/contacts/?email=\(address)")
            #expect(list.data.count == 1)
            #expect(try await h.call(.get, "/v1/contacts/").data.count == 1)
        }
    }

    // MARK: - Lists

    @Test func paginationStaysStableWhileInserting() async throws {
        try await Harness.run { h in
            var originals = Set<String>()
            for i in 0..<30 {
                let r = try await h.contact(Fixture.address("p\(i)"))
                #expect(r.status == 201)
                originals.insert(r.id)
                if i % 5 == 4 { h.clock.advance(seconds: 1) }  // some ties on created_at, some not
            }
            var seen: [String] = []
            var cursor: String? = nil
            var pages = 0
            var inserted = 0
            repeat {
                let page = try await h.call(.get, "/v1/contacts/?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == 200, "\(page.body)")
                #expect(page.data.count <= 7)
                seen += page.data.compactMap { $0["id"]?.string }
                cursor = page["next_cursor"]?.string
                #expect(page["next_cursor"] != nil, "next_cursor must be present (null on the last page)")
                pages += 1
                if inserted < 10 {
                    for _ in 0..<min(3, 10 - inserted) {
                        #expect(try await h.contact(Fixture.address("new")).status == 201)
                        inserted += 1
                    }
                }
            } while cursor != nil && pages < 20
            #expect(inserted == 10)
            #expect(seen.count == Set(seen).count, "duplicates across pages")
            #expect(originals.isSubset(of: Set(seen)), "missing: \(originals.subtracting(seen))")
            #expect(pages >= 5)

            for bad in ["limit=0", "limit=201", "limit=x", "cursor=%21%21not-a-cursor"] {
                let r = try await h.call(.get, "/v1/contacts/?\(bad)")
                #expect(r.status == 422, "\(bad): \(r.body)")
                #expect(r.errorParam == (bad.hasPrefix("limit") ? "limit" : "cursor"), "\(bad)")
            }
        }
    }

    @Test func emailAndLabelFilters() async throws {
        try await Harness.run { h in
            let vip = Fixture.address("vip")
            let plain = Fixture.address("plain")
            let both = Fixture.address("both")
            let a = try await h.contact(vip, extra: #", "labels": ["vip"]"#)
            let b = try await h.contact(plain, extra: #", "labels": ["lead"]"#)
            let c = try await h.contact(both, extra: #", "labels": ["lead", "vip"]"#)
            #expect(a.status == 201 && b.status == 201 && c.status == 201)

            let byEmail = try await h.call(.get, "/v1/contacts/?email=\(plain)")
            #expect(byEmail.data.compactMap { $0["id"]?.string } == [b.id])
            let domainCase = plain.replacingOccurrences(of: "example.com", with: "EXAMPLE.com")
            #expect(try await h.call(.get, "/v1/contacts/?email=\(domainCase)").data.compactMap { $0["id"]?.string } == [b.id])
            #expect(try await h.call(.get, "/v1/contacts/?email=nobody-\(Fixture.suffix())@example.com").data.isEmpty)

            let vips = try await h.call(.get, "/v1/contacts/?label=vip")
            #expect(Set(vips.data.compactMap { $0["id"]?.string }) == [a.id, c.id])
            let leads = try await h.call(.get, "/v1/contacts/?label=lead&email=\(both)")
            #expect(leads.data.compactMap { $0["id"]?.string } == [c.id])
            #expect(try await h.call(.get, "/v1/contacts/?label=none").data.isEmpty)

            // Label changes show up in the filter.
            let relabel = try await h.call(.post, "/v1/contacts/\(a.id)/labels/", #"{"add": ["lead"], "remove": ["vip"]}"#)
            #expect(relabel.status == 200, "\(relabel.body)")
            #expect(relabel["labels"] == .array(["lead"]))
            #expect(Set(try await h.call(.get, "/v1/contacts/?label=vip").data.compactMap { $0["id"]?.string }) == [c.id])
            #expect(try await h.call(.get, "/v1/contacts/?label=lead").data.count == 3)
        }
    }

    // MARK: - One contact

    @Test func getPatchDeleteKeepsMessages() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let address = Fixture.address("hist")
            let created = try await h.contact(address, inbox: inbox)
            #expect(created.status == 201)
            let id = created.id
            #expect(id.hasPrefix("ctc_"))
            let inbound = try await h.call(
                .post, "/v1/inboxes/\(inbox)/messages/inbound/",
                raw: Array(
                    "From: Avery Chen <\(address)>\r\nTo: sales@acme.test\r\nSubject: Hello\r\nMessage-ID: <hist-\(Fixture.suffix())@example.com>\r\n\r\nHi there.\r\n"
                        .utf8))
            #expect(inbound.status == 202, "\(inbound.body)")
            let messageID = inbound["message_id"]?.string ?? ""

            let got = try await h.call(.get, "/v1/contacts/\(id)/")
            #expect(got.status == 200)
            #expect(got["emails"]?[0]?["address"]?.string == address)
            #expect(got["inbox_id"]?.string == inbox)

            let patched = try await h.call(
                .patch, "/v1/contacts/\(id)/",
                #"{"full_name": "Jordan Lee", "fields": {"company": "Acme"}, "timezone": "Europe/Paris", "notes": "met at expo"}"#)
            #expect(patched.status == 200, "\(patched.body)")
            #expect(patched["first_name"]?.string == "Jordan")
            #expect(patched["last_name"]?.string == "Lee")
            #expect(patched["fields"]?["company"]?.string == "Acme")
            #expect(patched["timezone"]?.string == "Europe/Paris")
            #expect(patched["emails"]?[0]?["address"]?.string == address, "PATCH without emails keeps them")
            let cleared = try await h.call(.patch, "/v1/contacts/\(id)/", #"{"notes": null}"#)
            #expect(cleared.status == 200)
            #expect(cleared["notes"]?.string == nil)
            #expect(cleared["full_name"]?.string == "Jordan Lee")
            let badTZ = try await h.call(.patch, "/v1/contacts/\(id)/", #"{"timezone": "Not/AZone"}"#)
            #expect(badTZ.status == 422)
            #expect(badTZ.errorParam == "timezone")

            let deleted = try await h.call(.delete, "/v1/contacts/\(id)/")
            #expect(deleted.status == 200, "\(deleted.body)")
            #expect(try await h.call(.get, "/v1/contacts/\(id)/").status == 404)
            #expect(try await h.call(.patch, "/v1/contacts/\(id)/", #"{"notes": "x"}"#).status == 404)
            #expect(try await h.call(.delete, "/v1/contacts/\(id)/").status == 404)
            #expect(try await h.call(.post, "/v1/contacts/\(id)/labels/", #"{"add": ["x"]}"#).status == 404)
            #expect(try await h.call(.get, "/v1/contacts/").data.isEmpty)
            #expect(try await h.call(.get, "/v1/contacts/?email=\(address)").data.isEmpty)

            // The history stays.
            let message = try await h.call(.get, "/v1/messages/\(messageID)/")
            #expect(message.status == 200, "\(message.body)")
            #expect(message["from"]?.string == address)
            #expect(try await h.call(.get, "/v1/threads/\(inbound["thread_id"]?.string ?? "")/").status == 200)

            // The address is free again: a new contact.
            let again = try await h.contact(address)
            #expect(again.status == 201, "\(again.body)")
            #expect(again.id != id)
        }
    }

    @Test func anotherOrganizationCannotSeeOrChangeContacts() async throws {
        try await Harness.run { h in
            let address = Fixture.address("own")
            let mine = try await h.contact(address, name: "Mine Only")
            let other = try await h.otherOrg()
            #expect(try await h.call(.get, "/v1/contacts/\(mine.id)/", token: other.admin).status == 404)
            #expect(try await h.call(.patch, "/v1/contacts/\(mine.id)/", token: other.admin, #"{"full_name": "Stolen"}"#).status == 404)
            #expect(try await h.call(.delete, "/v1/contacts/\(mine.id)/", token: other.admin).status == 404)
            #expect(try await h.call(.get, "/v1/contacts/?email=\(address)", token: other.admin).data.isEmpty)
            // The same address in the other organization is another contact.
            let theirs = try await h.contact(address, token: other.admin)
            #expect(theirs.status == 201)
            #expect(theirs.id != mine.id)
            let after = try await h.call(.get, "/v1/contacts/\(mine.id)/")
            #expect(after["full_name"]?.string == "Mine Only")
        }
    }

    @Test func firstAndLastNamesAreDerived() async throws {
        let table: [(full: String, first: String, last: String?)] = [
            ("Dr. Mary Ann Smith Jr.", "Mary", "Smith"),
            ("Chen, Avery", "Avery", "Chen"),
            ("Avery Chen", "Avery", "Chen"),
            ("  Ms. Dana   Scully  ", "Dana", "Scully"),
            ("Cher", "Cher", nil),
        ]
        try await Harness.run { h in
            for row in table {
                let r = try await h.contact(Fixture.address("name"), name: row.full)
                #expect(r.status == 201, "\(r.body)")
                #expect(r["first_name"]?.string == row.first, "\(row.full): \(r.body)")
                #expect(r["last_name"]?.string == row.last, "\(row.full): \(r.body)")
            }
            // PATCH recomputes them.
            let c = try await h.contact(Fixture.address("rename"), name: "Avery Chen")
            let renamed = try await h.call(.patch, "/v1/contacts/\(c.id)/", #"{"full_name": "Lee, Jordan"}"#)
            #expect(renamed["first_name"]?.string == "Jordan")
            #expect(renamed["last_name"]?.string == "Lee")
        }
    }

    /// 20,000 addresses added after the last ANALYZE (a burst of new contacts the statistics do
    /// not know of yet): looking a new address up is still one primary-key probe. With
    /// `address_key = ANY(keys)` the planner read every address of the organization and filtered
    /// them; a plain lateral join was flattened into a hash join over that same read.
    @Test func newAddressLookupAfterAnUnanalysedBurstProbesOneKey() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            #expect(
                try await h.call(.post, "/v1/contacts/", #"{"inbox_id": "\#(inbox)", "emails": [{"address": "first@example.com"}]}"#).status == 201)
            let logger = h.services.db.logger
            try await h.services.db.client.withConnection { conn in  // as the tables' owner
                try await conn.query("ALTER TABLE contact_emails SET (autovacuum_enabled = false)", logger: logger)
                try await conn.query("ANALYZE contact_emails", logger: logger)
            }
            try await h.services.db.system { conn in
                try await conn.query(
                    """
                    INSERT INTO contacts (org_id, id, inbox_id, labels, fields, created_at, updated_at)
                    SELECT \(h.org), 'ctc_burst' || lpad(i::text, 13, '0'), \(inbox), '{}', '{}', now(), now() FROM generate_series(1, 20000) AS i
                    """, logger: logger)
                try await conn.query(
                    """
                    INSERT INTO contact_emails (org_id, address_key, contact_id, address, position)
                    SELECT \(h.org), 'burst' || i || '@example.com', 'ctc_burst' || lpad(i::text, 13, '0'), 'burst' || i || '@example.com', 0
                    FROM generate_series(1, 20000) AS i
                    """, logger: logger)
            }
            let lookup = ContactStore.UpsertByAddress(
                org: h.org, newID: ID.make(.ctc),
                input: ContactInput(inboxID: inbox, emails: [ContactEmail(label: nil, address: "new@example.com")]), fields: "{}", now: Date())
            let plan = try await h.services.db.system(rollback: true) { conn in
                try await conn.query("SELECT set_config('role', 'nudge_api', true), set_config('nudge.org_id', \(h.org), true)", logger: logger)
                return try await conn.explainAnalyze(lookup, logger: logger)
            }
            let read = plan.split(separator: "\n").first { $0.contains(" on contact_emails") && !$0.contains("Insert on") } ?? ""
            #expect(read.contains("Index Scan using contact_emails_pkey"), "\(plan)")
            #expect((DispatchTests.actualRows(plan, node: String(read.trimmingCharacters(in: .whitespaces).prefix(40))) ?? .max) <= 1, "\(plan)")
            #expect(!plan.contains("Rows Removed by Filter"), "\(plan)")
        }
    }

    /// The enrollment statement places the contact upsert's parameters first and renumbers its own.
    @Test func sqlParametersShiftOnlyPlaceholders() {
        #expect(SQLParameters.shifted("a = $1::text AND b IN ($2, $22) AND c = '$x'", by: 12) == "a = $13::text AND b IN ($14, $34) AND c = '$x'")
        #expect(SQLParameters.shifted("$9$", by: 1) == "$10$")
        #expect(EnrollmentStore.InsertWithNewContact.sql.contains("$34::int8"))
        #expect(EnrollmentStore.InsertWithNewContact.sql.contains("$36::bool"))
        #expect(!EnrollmentStore.InsertWithNewContact.sql.contains("$37"))
    }
}
