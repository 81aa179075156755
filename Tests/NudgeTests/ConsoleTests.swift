import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NudgeCore
import Testing

/// The operator console over real routing and PostgreSQL: sign-in and sessions, CSRF and origin
/// checks, security headers, scopes and organizations as the API has them, hostile data escaped.
/// (ConsoleBrowserTests drives the same pages in Chromium.)
@Suite struct ConsoleTests {
    /// Text that would run, load or restyle something if it were not escaped.
    static let hostile =
        #"<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> <a href="javascript:window.__pwned=3">x</a> <style>body{display:none}</style> '"><svg onload=window.__pwned=4>"#

    struct Seeded {
        let inbox: String
        let sequence: String
        let enrollment: String
        let contact: String
    }

    /// An inbox, a contact and a sequence whose names, subject and body are hostile; the contact
    /// enrolled. With `send`, the first step is sent and a hostile reply received (it exits).
    static func seed(_ h: Harness, send: Bool) async throws -> Seeded {
        let inbox = try await h.inbox()
        let address = Fixture.address()
        let contact = try await h.call(
            .post, "/v1/contacts/",
            JSONValue.object([
                "inbox_id": .string(inbox), "full_name": .string("Mallory " + hostile),
                "emails": .array([.object(["label": "work", "address": .string(address)])]),
            ]).serialized)
        try #require(contact.status == 201, "contact: \(contact.body)")
        let seq = try await h.call(
            .post, "/v1/sequences/",
            JSONValue.object([
                "name": .string("Outreach " + hostile), "sender_inbox_id": .string(inbox), "exit_on_reply": true,
                "emails": .array([
                    .object(["delay_days": 0, "subject": .string("Hello " + hostile), "body": .string("Body " + hostile)]),
                    .object(["delay_days": 3, "subject": "Second", "body": "Checking in."]),
                ]),
            ]).serialized)
        try #require(seq.status == 201, "sequence: \(seq.body)")
        let e = try await h.call(
            .post, "/v1/sequences/enrollments/",
            #"{"inbox_id": "\#(inbox)", "sequence_id": "\#(seq.id)", "recipient": {"contact_id": "\#(contact.id)"}}"#)
        try #require(e.status == 201, "enroll: \(e.body)")
        if send {
            var sent: String?
            for _ in 0..<100 {
                _ = try await h.advance(seconds: 60)
                let r = try await h.call(.get, "/v1/sequences/enrollments/\(e.id)/")
                if let m = r["timeline"]?.items.first?["rfc822_message_id"]?.string {
                    sent = m
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let messageID = try #require(sent, "the first step was not sent")
            let raw =
                "From: \(address)\r\nTo: x@acme.test\r\nSubject: Re: \(hostile)\r\nMessage-ID: <\(UUID().uuidString)@example.com>\r\n"
                + "In-Reply-To: \(messageID)\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Reply \(hostile)</p><img src=\"http://127.0.0.2:9/beacon.png\">\r\n"
            let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(raw.utf8))
            try #require(r.status == 202, "inbound: \(r.body)")
        }
        return Seeded(inbox: inbox, sequence: seq.id, enrollment: e.id, contact: contact.id)
    }

    // MARK: helpers over the test client

    struct Answer {
        let status: Int
        let headers: HTTPFields
        let body: String
        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
    }

    static func get(_ h: Harness, _ path: String, cookie: String?) async throws -> Answer {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await h.client.execute(uri: path, method: .get, headers: headers, body: nil) { r in
            Answer(status: Int(r.status.code), headers: r.headers, body: String(buffer: r.body))
        }
    }

    static func post(_ h: Harness, _ path: String, cookie: String?, form: [(String, String)], headers extra: HTTPFields = [:]) async throws -> Answer
    {
        var headers = extra
        if let cookie { headers[.cookie] = cookie }
        headers[.contentType] = "application/x-www-form-urlencoded"
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await h.client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { r in
            Answer(status: Int(r.status.code), headers: r.headers, body: String(buffer: r.body))
        }
    }

    /// Signs in with `token`; the session cookie (`name=value`) and the CSRF token of its forms.
    static func signIn(_ h: Harness, _ token: String) async throws -> (cookie: String, csrf: String) {
        let r = try await post(h, "/console/sign-in", cookie: nil, form: [("token", token)])
        #expect(r.status == 303)
        let set = try #require(r.header("Set-Cookie"))
        let cookie = String(set.split(separator: ";")[0])
        let page = try await get(h, "/console/", cookie: cookie)
        #expect(page.status == 200)
        let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([A-Za-z0-9]+)"/)).output.1
        return (cookie, String(csrf))
    }

    // MARK: tests

    @Test func templatesNeverInsertUnescaped() throws {
        let dir = TestCluster.packageRoot.appendingPathComponent("console/templates")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".mustache") }
        #expect(names.count > 10)
        let handler = try Regex(" on[a-z]+=")
        for name in names {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name) inserts a value unescaped")
            #expect(
                !text.contains("<script>") && !text.contains(" style=") && text.firstMatch(of: handler) == nil, "\(name) has inline script or style")
        }
    }

    @Test func signInSessionHeadersAndSignOut() async throws {
        try await Harness.run { h in
            let page = try await Self.get(h, "/console/sign-in", cookie: nil)
            #expect(page.status == 200)
            #expect(page.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(page.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
            #expect(page.header("X-Frame-Options") == "DENY")
            #expect(page.header("X-Content-Type-Options") == "nosniff")
            #expect(page.header("Referrer-Policy") == "no-referrer")
            #expect(page.header("Cache-Control") == "no-store")
            let missing = try await Self.get(h, "/console/no/such/page", cookie: nil)
            #expect(missing.status == 404 && missing.header("X-Frame-Options") == "DENY")
            // Without a session every page asks to sign in; a wrong token is refused.
            #expect(try await Self.get(h, "/console/tokens", cookie: nil).header("Location") == "/console/sign-in")
            #expect(try await Self.post(h, "/console/sign-in", cookie: nil, form: [("token", "nudge_wrong")]).status == 401)

            let r = try await Self.post(h, "/console/sign-in", cookie: nil, form: [("token", h.admin)])
            let set = try #require(r.header("Set-Cookie"))
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console"))
            #expect(!set.contains("Secure"))  // --dev (plain HTTP on loopback)
            #expect(!set.contains(h.admin))
            let (cookie, csrf) = try await Self.signIn(h, h.admin)
            let tokens = try await Self.get(h, "/console/tokens", cookie: cookie)
            #expect(tokens.status == 200 && tokens.body.contains("Create token"))
            #expect(tokens.header("X-Frame-Options") == "DENY")
            #expect(!tokens.body.contains(h.admin))

            // Sign-out needs the CSRF token, then the session is gone server-side.
            #expect(try await Self.post(h, "/console/sign-out", cookie: cookie, form: []).status == 403)
            let out = try await Self.post(h, "/console/sign-out", cookie: cookie, form: [("csrf", csrf)])
            #expect(out.status == 303 && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await Self.get(h, "/console/tokens", cookie: cookie).status == 303)
        }
    }

    @Test func formsNeedTheSessionsCSRFTokenAndThisOrigin() async throws {
        try await Harness.run { h in
            let (cookie, csrf) = try await Self.signIn(h, h.admin)
            let form = [("name", "from console"), ("scopes", "contacts:read")]
            #expect(try await Self.post(h, "/console/tokens", cookie: cookie, form: form).status == 403)
            #expect(try await Self.post(h, "/console/tokens", cookie: cookie, form: form + [("csrf", "x" + csrf.dropFirst())]).status == 403)
            let other = try await Self.signIn(h, h.admin)  // another session's token does not fit this one
            #expect(try await Self.post(h, "/console/tokens", cookie: cookie, form: form + [("csrf", other.csrf)]).status == 403)
            let crossSite = try await Self.post(
                h, "/console/tokens", cookie: cookie, form: form + [("csrf", csrf)], headers: [.origin: "http://evil.example"])
            #expect(crossSite.status == 403)
            let fetchSite = try await Self.post(
                h, "/console/tokens", cookie: cookie, form: form + [("csrf", csrf)], headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"])
            #expect(fetchSite.status == 403)
            let opaque = try await Self.post(h, "/console/tokens", cookie: cookie, form: form + [("csrf", csrf)], headers: [.origin: "null"])
            #expect(opaque.status == 403)
            #expect(try await h.call(.get, "/v1/tokens/").data.count == 1)  // nothing was created

            // As Chromium posts from a no-referrer page: an opaque Origin, Sec-Fetch-Site same-origin.
            let created = try await Self.post(
                h, "/console/tokens", cookie: cookie, form: form + [("csrf", csrf)],
                headers: [.origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"])
            #expect(created.status == 200)
            let secret = try #require(created.body.firstMatch(of: /id="secret">(nudge_[A-Za-z0-9]+)</)).output.1
            SecretLedger.record(String(secret))
            #expect(try await h.call(.get, "/v1/contacts/", token: String(secret)).status == 200)
            // The secret is shown once: the list does not carry it.
            #expect(!(try await Self.get(h, "/console/tokens", cookie: cookie)).body.contains(String(secret)))
        }
    }

    @Test func scopesAndOrganizationsAreTheAPIs() async throws {
        try await Harness.run { h in
            let seeded = try await Self.seed(h, send: false)
            let other = try await h.otherOrg()
            let (cookie, otherCSRF) = try await Self.signIn(h, other.admin)
            for path in [
                "/console/sequences/\(seeded.sequence)", "/console/enrollments/\(seeded.enrollment)", "/console/threads/thr_\(Fixture.suffix())",
                "/console/webhooks/whk_\(Fixture.suffix())", "/console/sequences/..%2Ftokens",
            ] {
                let r = try await Self.get(h, path, cookie: cookie)
                #expect(r.status == 404, "\(path): \(r.status)")
                #expect(!r.body.contains("Outreach"))
            }
            let otherCookie = cookie
            let steer = try await Self.signIn(h, h.admin)
            // Another organization's admin, with its own session's CSRF token, cannot steer it.
            let foreign = try await Self.post(
                h, "/console/enrollments/\(seeded.enrollment)/action", cookie: otherCookie, form: [("action", "cancel"), ("csrf", otherCSRF)])
            #expect(foreign.status == 404)
            let paused = try await Self.post(
                h, "/console/enrollments/\(seeded.enrollment)/action", cookie: steer.cookie, form: [("action", "pause"), ("csrf", steer.csrf)])
            #expect(paused.status == 303)
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(seeded.enrollment)/")["state"]?.string == "paused")
            for (action, status) in [("cancel", 303), ("resume", 409)] {  // what the state allows is the API's rule
                let r = try await Self.post(
                    h, "/console/enrollments/\(seeded.enrollment)/action", cookie: steer.cookie, form: [("action", action), ("csrf", steer.csrf)])
                #expect(r.status == status, "\(action)")
            }
            // A token without admin sees the pages its scopes allow, and is refused the others.
            let reader = try await h.token(["sequences:read"])
            let (rc, _) = try await Self.signIn(h, reader)
            #expect(try await Self.get(h, "/console/sequences/\(seeded.sequence)", cookie: rc).status == 200)
            #expect(try await Self.get(h, "/console/tokens", cookie: rc).status == 403)
            #expect(try await Self.get(h, "/console/suppressions", cookie: rc).status == 403)
            // Revoking the token ends its sessions.
            _ = try await h.call(.delete, "/v1/tokens/\(try await h.tokenID(reader))/")
            #expect(try await Self.get(h, "/console/sequences", cookie: rc).status == 303)
        }
    }

    /// The sequence page shows the API's statistics (a sent step and the reply it got), the
    /// overview the paused inboxes, and the token form sets a send policy the API keeps (and
    /// refuses a bad one naming the field).
    @Test func statisticsPausedInboxesAndTokenPolicies() async throws {
        try await Harness.run { h in
            let seeded = try await Self.seed(h, send: true)
            let (cookie, csrf) = try await Self.signIn(h, h.admin)
            let page = try await Self.get(h, "/console/sequences/\(seeded.sequence)", cookie: cookie)
            #expect(page.status == 200)
            for shown in [#"id="stat-enrolled">1<"#, #"id="stat-sent">1<"#, #"id="stat-replied">1<"#, "replied (100.0%)", "<li>replied: 1</li>"] {
                #expect(page.body.contains(shown), "\(shown)")
            }
            var overview = try await Self.get(h, "/console/", cookie: cookie)
            #expect(overview.body.contains(#"id="paused-inboxes">0<"#))
            let paused = try await h.call(.patch, "/v1/inboxes/\(seeded.inbox)/", #"{"paused": true}"#)
            #expect(paused.status == 200, "\(paused.body)")
            overview = try await Self.get(h, "/console/", cookie: cookie)
            #expect(overview.body.contains(#"id="paused-inboxes">1<"#) && overview.body.contains("(manual)"), "\(overview.body)")
            let inboxes = try await Self.get(h, "/console/inboxes", cookie: cookie)
            #expect(inboxes.body.contains("<strong>paused</strong> (manual"))

            let form: [(String, String)] = [
                ("name", "agent"), ("scopes", "contacts:read"), ("daily_email_cap", "100"), ("daily_enrollment_cap", ""),
                ("allowed_domains", "example.com, *.example.org"), ("blocked_domains", ""), ("require_approval", "llm_steps"), ("csrf", csrf),
            ]
            let created = try await Self.post(h, "/console/tokens", cookie: cookie, form: form)
            #expect(created.status == 200)
            #expect(created.body.contains("100 emails/day, only example.com *.example.org, approval: llm_steps"), "\(created.body)")
            let id = try #require(created.body.firstMatch(of: /(tok_[0-9A-Za-z]+)/)).output.1
            let token = try await h.call(.get, "/v1/tokens/\(id)/")
            #expect(token["send_policy"]?["daily_email_cap"]?.number == 100)
            #expect(token["send_policy"]?["allowed_domains"] == .array(["example.com", "*.example.org"]), "\(token.body)")
            #expect(token["send_policy"]?["require_approval"]?.string == "llm_steps")
            #expect(token["send_policy"]?["daily_enrollment_cap"] == nil)
            let list = try await Self.get(h, "/console/tokens", cookie: cookie)
            #expect(list.body.contains("100 emails/day"))
            for (field, value) in [("daily_email_cap", "-3"), ("require_approval", "sometimes"), ("allowed_domains", "not a domain!")] {
                let bad = try await Self.post(
                    h, "/console/tokens", cookie: cookie, form: [("name", "bad"), ("scopes", "contacts:read"), (field, value), ("csrf", csrf)])
                #expect(bad.status == 422 && bad.body.contains(field), "\(field): \(bad.status) \(bad.body.prefix(600))")
            }
        }
    }

    /// Drafts through the console: the scopes are the API's (read without deciding; no page
    /// without drafts:read), an untouched form approves with no edit, a textarea's CRLF is not an
    /// edit, and a second decision is the API's 409.
    @Test func draftsAreReadAndDecidedThroughTheAPI() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let steps = #"[{"delay_days": 0, "subject": "Hi", "body": "Line one.\nLine two."}]"#
            let a = try await DraftTests.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: steps)
            let b = try await DraftTests.drafted(h, inbox: inbox, policy: #"{"require_approval": "all_steps"}"#, steps: steps)
            var ids: [String] = []
            for _ in 0..<50 where ids.count < 2 {
                _ = try await h.advance(seconds: 60)
                ids = []
                for e in [a.enrollment, b.enrollment] { if let id = try await DraftTests.draft(h, of: e)?["id"]?.string { ids.append(id) } }
            }
            try #require(ids.count == 2)

            let reader = try await h.token(["drafts:read"])
            let (rc, rcsrf) = try await Self.signIn(h, reader)
            let overview = try await Self.get(h, "/console/", cookie: rc)
            #expect(overview.body.contains(#"id="drafts-pending">2<"#), "\(overview.body)")
            let page = try await Self.get(h, "/console/drafts/\(ids[0])", cookie: rc)
            #expect(page.status == 200 && page.body.contains("Line one.") && !page.body.contains(#"id="approve-form""#))
            let refused = try await Self.post(h, "/console/drafts/\(ids[0])/reject", cookie: rc, form: [("action", "exit"), ("csrf", rcsrf)])
            #expect(refused.status == 403)
            let (nc, _) = try await Self.signIn(h, try await h.token(["sequences:read"]))
            #expect(try await Self.get(h, "/console/drafts", cookie: nc).status == 403)
            #expect(!(try await Self.get(h, "/console/", cookie: nc)).body.contains("drafts-pending"))

            let (cookie, csrf) = try await Self.signIn(h, h.admin)
            let list = try await Self.get(h, "/console/drafts", cookie: cookie)
            #expect(list.status == 200 && list.body.contains(ids[0]) && list.body.contains(ids[1]))
            // As a browser posts the untouched form: the body's line breaks as CRLF.
            let approved = try await Self.post(
                h, "/console/drafts/\(ids[0])/approve", cookie: cookie, form: [("csrf", csrf), ("subject", "Hi"), ("body", "Line one.\r\nLine two.")])
            #expect(approved.status == 303 && approved.header("Location") == "/console/drafts/\(ids[0])")
            let d = try await h.call(.get, "/v1/drafts/\(ids[0])/")
            #expect(d["state"]?.string == "approved" && d["edited_by"] == nil && d["original_body"] == nil, "\(d.json)")
            let twice = try await Self.post(h, "/console/drafts/\(ids[0])/reject", cookie: cookie, form: [("action", "exit"), ("csrf", csrf)])
            #expect(twice.status == 409)
            // Only the changed field is the edit.
            let edited = try await Self.post(
                h, "/console/drafts/\(ids[1])/approve", cookie: cookie, form: [("csrf", csrf), ("subject", "Hi"), ("body", "New.\r\nText.")])
            #expect(edited.status == 303)
            let e = try await h.call(.get, "/v1/drafts/\(ids[1])/")
            #expect(e["body"]?.string == "New.\nText." && e["original_body"]?.string == "Line one.\nLine two." && e["original_subject"] == nil)
            let shown = try await Self.get(h, "/console/drafts/\(ids[1])", cookie: cookie)
            #expect(shown.body.contains(#"id="draft-edited-by""#) && shown.body.contains("Line one."))
            let empty = try await Self.post(h, "/console/drafts/\(ids[1])/reject", cookie: cookie, form: [("action", "later"), ("csrf", csrf)])
            #expect(empty.status == 422, "the action is checked first")
        }
    }

    @Test func hostileDataIsEscapedText() async throws {
        try await Harness.run { h in
            let seeded = try await Self.seed(h, send: false)
            let (cookie, _) = try await Self.signIn(h, h.admin)
            for path in ["/console/sequences", "/console/sequences/\(seeded.sequence)", "/console/enrollments/\(seeded.enrollment)"] {
                let r = try await Self.get(h, path, cookie: cookie)
                #expect(r.status == 200, "\(path)")
                #expect(r.body.contains("&lt;script&gt;window.__pwned=1"), "\(path)")
                #expect(!r.body.contains("<script>window") && !r.body.contains("<img src=x") && !r.body.contains("<svg"), "\(path)")
                #expect(!r.body.contains(#"href="javascript"#), "\(path)")
            }
        }
    }
}
