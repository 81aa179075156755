import Foundation
import HTTPTypes
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// Regression tests for findings of a black-box probe made with a low-scope token, or as someone
/// who can only send mail to an inbox. Each reproduces the finding as it was reported.
@Suite struct SecurityFixesTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    /// An admin's kept answer (a new admin token's secret) was replayed to any token of the
    /// organization that sent the same key and body: the replay ran before the route's scope check.
    @Test func replayedKeyNeverSkipsTheScopeCheck() async throws {
        try await Harness.run { h in
            let body = #"{"name": "ci-admin", "scopes": ["admin"]}"#
            let created = try await h.call(.post, "/v1/tokens/", body, headers: [Self.key: "create-admin-1"])
            #expect(created.status == 201, "\(created.body)")
            let secret = try #require(created["token"]?.string)
            for scopes in [["inbound:write"], ["contacts:read"], ["contacts:read", "contacts:write", "sequences:read", "sequences:write"]] {
                let low = try await h.token(scopes)
                for b in [body, #"{"name": "other", "scopes": ["admin"]}"#] {
                    let r = try await h.call(.post, "/v1/tokens/", token: low, b, headers: [Self.key: "create-admin-1"])
                    #expect(r.status == 403 && r.errorType == "permission_error", "\(scopes): \(r.status) \(r.body)")
                    #expect(r.header("Idempotent-Replayed") == nil && !r.body.contains(secret), "\(scopes) got the replay: \(r.body)")
                }
            }
            // The creator still gets its own answer back.
            let again = try await h.call(.post, "/v1/tokens/", body, headers: [Self.key: "create-admin-1"])
            #expect(again.status == 201 && again.header("Idempotent-Replayed") == "true" && again["token"]?.string == secret)

            // Contact data: kept for a contacts:write token, not replayed to a token that cannot read contacts.
            let writer = try await h.token(["contacts:write", "contacts:read"])
            let contact = #"{"full_name": "Avery Chen", "emails": [{"address": "avery-\#(Fixture.suffix())@example.com"}]}"#
            let c = try await h.call(.post, "/v1/contacts/", token: writer, contact, headers: [Self.key: "contact-1"])
            #expect(c.status == 201, "\(c.body)")
            let reader = try await h.token(["inbound:write"])
            let r = try await h.call(.post, "/v1/contacts/", token: reader, contact, headers: [Self.key: "contact-1"])
            #expect(r.status == 403 && !r.body.contains("Avery"), "\(r.body)")
            // Another token with the scope runs its own request (an upsert of the same contact: 200, not a replay).
            let other = try await h.token(["contacts:write"])
            let o = try await h.call(.post, "/v1/contacts/", token: other, contact, headers: [Self.key: "contact-1"])
            #expect(o.status == 200 && o.header("Idempotent-Replayed") == nil, "\(o.status) \(o.body)")
        }
    }

    /// A preview rendered a working, signed unsubscribe link for any address (a `sequences:read`
    /// token could suppress anyone with it), and showed a stored contact's data to a token that
    /// cannot read contacts.
    @Test func previewLinksAreInertAndContactDataNeedsContactsRead() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let stored = Fixture.address("stored")
            let contact = try await h.contact(stored, inbox: inbox, extra: #", "fields": {"company": "Secret Corp"}"#)
            let seq = try await h.call(
                .post, "/v1/sequences/",
                Fixture.sequence(
                    inbox,
                    emails: """
                        [{"delay_days": 1, "subject": "Hi", "body": "Hi {{contact.first_name}} of {{contact.fields.company}}. Stop: {{unsubscribe_url}}"}]
                        """)
            ).id
            let reader = try await h.token(["sequences:read"])
            let victim = "victim-\(Fixture.suffix())@client.test"
            let p = try await h.call(.post, "/v1/sequences/\(seq)/preview/", token: reader, #"{"recipient": {"email": "\#(victim)"}}"#)
            #expect(p.status == 200, "\(p.body)")
            let body = p.json["steps"]?.items.first?["body"]?.string ?? ""
            let link = try #require(body.range(of: "/u/[^ \"]+", options: .regularExpression).map { String(body[$0]) }, "\(body)")
            let posted = try await h.call(.post, link, token: "", raw: Array("List-Unsubscribe=One-Click".utf8))
            #expect(posted.status == 404, "\(posted.status) \(posted.body)")
            #expect(try await h.call(.get, "/v1/suppressions/").data.isEmpty)

            let byID = try await h.call(.post, "/v1/sequences/\(seq)/preview/", token: reader, #"{"recipient": {"contact_id": "\#(contact.id)"}}"#)
            #expect(byID.status == 403 && byID.errorMessage.contains("contacts:read"), "\(byID.body)")
            let byAddress = try await h.call(.post, "/v1/sequences/\(seq)/preview/", token: reader, #"{"recipient": {"email": "\#(stored)"}}"#)
            #expect(byAddress.status == 200 && !byAddress.body.contains("Secret Corp") && !byAddress.body.contains("Avery"), "\(byAddress.body)")
            let both = try await h.token(["sequences:read", "contacts:read"])
            let allowed = try await h.call(.post, "/v1/sequences/\(seq)/preview/", token: both, #"{"recipient": {"contact_id": "\#(contact.id)"}}"#)
            #expect(allowed.status == 200 && allowed.body.contains("Secret Corp"), "\(allowed.body)")
        }
    }

    /// Unsubscribe links took non-canonical encodings (a flipped unused bit of the MAC, padding),
    /// matched the RFC 8058 body as a substring, never expired, and suppressed again when the
    /// same link was posted after an admin removed the suppression.
    @Test func unsubscribeLinksAreCanonicalFormBasedExpiringAndRespectALift() async throws {
        try await Harness.withSMTP { h, smtp in
            let inbox = try await h.inbox()
            let address = Fixture.address("unsub")
            _ = try await h.contact(address, inbox: inbox)
            let e = try await h.enrollAdHoc(
                inbox: inbox, email: address,
                steps: #"[{"delay_days": 0, "subject": "Hi", "body": "Hello."}, {"delay_days": 300, "subject": "Later", "body": "Again."}]"#)
            #expect(e.status == 201, "\(e.body)")
            _ = try await h.advance(seconds: 60)
            let parsed = try await PythonEmail.parse(file: try #require(try smtp.received().first).path)
            let header = try #require(parsed["list_unsubscribe"] as? String)
            let path = String(header.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" }.dropLast())
            let oneClick = Array("List-Unsubscribe=One-Click".utf8)
            let suppressions = { try await h.call(.get, "/v1/suppressions/?email=\(address)").data }

            // Other encodings of the same token: padding, and the MAC's unused low bits changed.
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            let last = try #require(path.last)
            let index = try #require(alphabet.firstIndex(of: last))
            for variant in [path + "=", String(path.dropLast()) + String(alphabet[index ^ 1]), String(path.dropLast()) + String(alphabet[index ^ 2])]
            {
                let r = try await h.call(.post, variant, token: "", raw: oneClick)
                #expect(r.status == 404, "\(variant): \(r.status)")
            }
            // The body is a form: the field must be List-Unsubscribe with the value One-Click.
            for body in ["x=List-Unsubscribe=One-Click", "List-Unsubscribe=One-Clicks", "List-Unsubscribe-Post=One-Click"] {
                let r = try await h.call(.post, path, token: "", raw: Array(body.utf8))
                #expect(r.status == 422, "\(body): \(r.status) \(r.body)")
            }
            #expect(try await suppressions().isEmpty)
            let form = try await h.call(.post, path, token: "", raw: Array("foo=bar&List-Unsubscribe=One-Click".utf8))
            #expect(form.status == 200, "\(form.body)")
            let sup = try #require(try await suppressions().first)

            // An admin lifts it: the same link posted again changes nothing...
            #expect(try await h.call(.delete, "/v1/suppressions/\(sup["id"]?.string ?? "")/").status == 200)
            let replay = try await h.call(.post, path, token: "", raw: oneClick)
            #expect(replay.status == 200 && replay.body.contains("confirm"), "\(replay.body)")
            #expect(try await suppressions().isEmpty)
            // ...until the person confirms on the page, after the lift.
            let page = try await h.call(.get, path, token: "")
            let confirm = try #require(
                page.body.range(of: #"name="confirm" value="[^"]+""#, options: .regularExpression)
                    .map { String(page.body[$0].dropFirst(#"name="confirm" value=""#.count).dropLast()) })
            let again = try await h.call(.post, path, token: "", raw: Array("List-Unsubscribe=One-Click&confirm=\(confirm)".utf8))
            #expect(again.status == 200 && again.body.contains("Unsubscribed"), "\(again.body)")
            #expect(try await suppressions().count == 1)

            // Links expire 180 days after their email was sent.
            _ = try await h.advance(seconds: 182 * 86_400)
            #expect(try await h.call(.get, path, token: "").status == 404)
        }
    }

    /// At start-up the background loops ran before the migrations ("relation idempotency_keys
    /// does not exist" from housekeeping on a new database). They now wait for the schema.
    @Test func backgroundLoopsStartAfterTheMigrations() async throws {
        let cluster = try await TestCluster.shared.cluster()
        let name = "empty_\(Int.random(in: 0..<1_000_000_000))"
        _ = try await TestCluster.shared.superuserQuery("CREATE DATABASE \(name) OWNER nudge", database: "postgres")
        let seen = SchemaProbe.Seen()
        try await Harness.run(
            testing: .live, database: DatabaseLocation.configuration(embedded: cluster, database: name),
            background: { [SchemaProbe(db: $0.db, seen: seen)] }
        ) { h in
            for _ in 0..<200 where seen.value.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(50)) }
            #expect(seen.value.withLock { $0 } == true, "a background service ran before idempotency_keys existed")
            #expect(try await h.call(.get, "/v1/tokens/me/").status == 200)
        }
    }
}

extension SecurityFixesTests {
    /// The only admin could give itself an expiry and leave the organization without an admin;
    /// `expires_at: null` answered 200 and kept the expiry.
    @Test func lastAdminCannotExpireAndExpiryClears() async throws {
        try await Harness.run { h in
            let me = try await h.tokenID(h.admin)
            let soon = ISO8601DateFormatter().string(from: h.clock.now().addingTimeInterval(10))
            let expiring = try await h.call(.patch, "/v1/tokens/\(me)/", #"{"expires_at": "\#(soon)"}"#)
            #expect(expiring.status == 409, "\(expiring.body)")
            // An admin that expires does not cover for one that does not.
            let temp = try await h.call(.post, "/v1/tokens/", #"{"name": "temp", "scopes": ["admin"], "expires_at": "\#(soon)"}"#)
            #expect(temp.status == 201)
            #expect(try await h.call(.patch, "/v1/tokens/\(me)/", #"{"expires_at": "\#(soon)"}"#).status == 409)
            #expect(try await h.call(.delete, "/v1/tokens/\(me)/").status == 409)
            // With another admin that does not expire, it may expire, and null clears the expiry.
            #expect(try await h.call(.post, "/v1/tokens/", #"{"name": "second", "scopes": ["admin"]}"#).status == 201)
            let set = try await h.call(.patch, "/v1/tokens/\(me)/", #"{"expires_at": "\#(soon)"}"#)
            #expect(set.status == 200 && set["expires_at"] != nil, "\(set.body)")
            let cleared = try await h.call(.patch, "/v1/tokens/\(me)/", #"{"expires_at": null}"#)
            #expect(cleared.status == 200 && cleared["expires_at"] == nil, "\(cleared.body)")
            #expect(try await h.call(.get, "/v1/tokens/\(me)/")["expires_at"] == nil)
        }
    }

    /// Names that end up in headers accepted bidirectional overrides (U+202E) and other controls.
    @Test func headerBoundNamesRefuseBidiOverridesAndControls() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            for bad in [#"\u202egnp.exe"#, #"a\u2066b"#, #"a\u0085b"#, #"a\u2028b"#, #"a\u001bb"#] {
                let cases: [(HTTPRequest.Method, String, String, String)] = [
                    (.post, "/v1/inboxes/", #"{"address": "x-\#(Fixture.suffix())@acme.test", "display_name": "\#(bad)"}"#, "display_name"),
                    (.patch, "/v1/inboxes/\(inbox)/", #"{"display_name": "\#(bad)"}"#, "display_name"),
                    (.post, "/v1/contacts/", #"{"full_name": "\#(bad)", "emails": [{"address": "\#(Fixture.address())"}]}"#, "full_name"),
                    (
                        .post, "/v1/sequences/", Fixture.sequence(inbox, emails: #"[{"delay_days": 1, "subject": "Hi \#(bad)", "body": "x"}]"#),
                        "emails[0].subject"
                    ),
                    (.post, "/v1/tokens/", #"{"name": "\#(bad)", "scopes": ["contacts:read"]}"#, "name"),
                ]
                for (method, path, body, param) in cases {
                    let r = try await h.call(method, path, body)
                    #expect(r.status == 422 && r.errorParam == param, "\(method) \(path) \(bad): \(r.status) \(r.body)")
                }
            }
            // Joiners and marks that scripts and emoji need stay allowed.
            let ok = try await h.call(
                .post, "/v1/contacts/",
                #"{"full_name": "\u05d3\u05d5\u05d3 \u200f\ud83d\udc69\u200d\ud83d\udcbb", "emails": [{"address": "\#(Fixture.address())"}]}"#)
            #expect(ok.status == 201, "\(ok.body)")
        }
    }
}

extension SecurityFixesTests {
    /// The events feed showed addresses (`suppression.created`, `message.bounced`) to any token,
    /// an `inbound:write`-only one included.
    @Test func eventsFeedListsOnlyWhatTheTokensScopesRead() async throws {
        try await Harness.run { h in
            let address = Fixture.address("gone")
            #expect(try await h.call(.post, "/v1/suppressions/", #"{"email": "\#(address)", "reason": "manual"}"#).status == 201)
            let inbound = try await h.token(["inbound:write"])
            let feed = try await h.call(.get, "/v1/events/?limit=200", token: inbound)
            #expect(feed.status == 200 && feed.data.isEmpty && !feed.body.contains(address), "\(feed.body)")
            let typed = try await h.call(.get, "/v1/events/?type=suppression.created", token: inbound)
            #expect(typed.status == 403 && typed.errorMessage.contains("suppressions:read"), "\(typed.body)")
            let reader = try await h.token(["suppressions:read"])
            let theirs = try await h.call(.get, "/v1/events/?limit=200", token: reader)
            #expect(theirs.data.map { $0["type"]?.string } == ["suppression.created"] && theirs.body.contains(address), "\(theirs.body)")
            let sequences = try await h.token(["sequences:read"])
            #expect(try await h.call(.get, "/v1/events/?limit=200", token: sequences).data.isEmpty)
        }
    }
}

extension SecurityFixesTests {
    /// Inbox addresses were unique across all organizations: the first to register one blocked
    /// every other, the 409 told another organization the address was taken, and any organization
    /// could send as any domain.
    @Test func inboxAddressesAreUniquePerOrganizationAndNeedAnAllowedDomain() async throws {
        try await Harness.run { h in
            let address = "sales-\(Fixture.suffix())@b.test"
            let other = try await h.otherOrg()
            #expect(try await h.call(.post, "/v1/inboxes/", token: other.admin, #"{"address": "\#(address)"}"#).status == 201)
            let ours = try await h.call(.post, "/v1/inboxes/", #"{"address": "\#(address.uppercased())"}"#)
            #expect(ours.status == 201, "\(ours.body)")
            let again = try await h.call(.post, "/v1/inboxes/", #"{"address": "\#(address)"}"#)
            #expect(again.status == 409 && again.errorParam == "address", "\(again.body)")
        }
        try await Harness.run(configure: { $0.dev = false }) { h in
            let refused = try await h.call(.post, "/v1/inboxes/", #"{"address": "sales@acme-\#(Fixture.suffix()).test"}"#)
            #expect(
                refused.status == 422 && refused.errorParam == "address" && refused.errorMessage.contains("nudge domain allow"), "\(refused.body)")
            let domain = "acme-\(Fixture.suffix()).test"
            #expect(try await h.services.senderDomains.allow(org: h.org, domain: domain.uppercased(), now: h.clock.now()))
            #expect(try await h.call(.post, "/v1/inboxes/", #"{"address": "sales@\#(domain)"}"#).status == 201)
            // Another organization's allowance is not this one's; a subdomain is a domain of its own.
            let other = try await h.otherOrg()
            #expect(try await h.call(.post, "/v1/inboxes/", token: other.admin, #"{"address": "sales@\#(domain)"}"#).status == 422)
            #expect(try await h.call(.post, "/v1/inboxes/", #"{"address": "sales@mail.\#(domain)"}"#).status == 422)
            // A domain in use stays allowed.
            guard case .inUse(let n) = try await h.services.senderDomains.remove(org: h.org, domain: domain) else {
                Issue.record("a domain with an inbox was removed")
                return
            }
            #expect(n == 1)
        }
        try await Harness.run(configure: {
            $0.dev = false
            $0.allowAnySenderDomain = true
        }) { h in
            let r = try await h.call(.post, "/v1/inboxes/", #"{"address": "sales@anywhere-\#(Fixture.suffix()).test"}"#)
            #expect(r.status == 201, "\(r.body)")
        }
    }
}

/// A background service that records whether the schema existed when it started.
struct SchemaProbe: Service {
    final class Seen: Sendable { let value = Mutex<Bool?>(nil) }
    let db: Database
    let seen: Seen

    func run() async throws {
        let exists = try await db.system { conn in
            try await conn.query("SELECT to_regclass('public.idempotency_keys') IS NOT NULL", logger: db.logger).decode(Bool.self).collect().first
        }
        seen.value.withLock { $0 = exists ?? false }
        // A service that returns ends the whole group: stay until the application stops.
        try? await gracefulShutdown()
    }
}
