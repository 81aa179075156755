import Foundation
import HTTPTypes
import Hummingbird
import NudgeCore
import NudgeHTTP
import NudgeStore

extension Console {
    func registerPages(_ g: RouterGroup<AppContext>) {
        g.get("") { req, ctx in try await overview(try await signed(req, ctx)) }
        g.get("drafts") { req, ctx in try await drafts(try await signed(req, ctx), req) }
        g.get("drafts/:id") { req, ctx in try await draft(try await signed(req, ctx), ctx) }
        g.post("drafts/:id/approve") { req, ctx in try await approveDraft(req, ctx) }
        g.post("drafts/:id/reject") { req, ctx in
            // Skip the step or end the enrollment; the API says 409 once the draft is decided.
            let (s, f) = try await form(req, ctx)
            let id = try segment(ctx)
            let action = f["action"]?.first ?? ""
            _ = try check(try await api.call(.post, "/v1/drafts/\(id)/reject", body: .object(["action": .string(action)]), context: s.context))
            return Page.redirect("/console/drafts/" + id)
        }
        g.get("sequences") { req, ctx in
            let s = try await signed(req, ctx)
            return try await listPage(s, req, "sequences", "Sequences", api: "/v1/sequences", filters: ["include_archived"])
        }
        g.get("sequences/:id") { req, ctx in try await sequence(try await signed(req, ctx), req, ctx) }
        g.get("enrollments") { req, ctx in
            let s = try await signed(req, ctx)
            return try await listPage(
                s, req, "enrollments", "Enrollments", api: "/v1/sequences/enrollments", filters: ["state", "sequence_id", "contact_id", "inbox_id"])
        }
        g.get("enrollments/:id") { req, ctx in try await enrollment(try await signed(req, ctx), ctx) }
        g.post("enrollments/:id/action") { req, ctx in
            // Pause, resume or cancel: the API's PATCH decides what the state allows (409 otherwise).
            let (s, f) = try await form(req, ctx)
            let id = try segment(ctx)
            let action = f["action"]?.first ?? ""
            _ = try check(
                try await api.call(.patch, "/v1/sequences/enrollments/" + id, body: .object(["action": .string(action)]), context: s.context))
            return Page.redirect("/console/enrollments/" + id)
        }
        g.get("threads") { req, ctx in try await threads(try await signed(req, ctx), req) }
        g.get("threads/:id") { req, ctx in
            let s = try await signed(req, ctx)
            var v = base(s, "Thread", "threads")
            v["thread"] = values(try await get(s, "/v1/threads/" + (try segment(ctx))))
            return render("thread", v)
        }
        g.get("tokens") { req, ctx in
            let s = try await signed(req, ctx)
            var v = try await listValues(s, req, "tokens", api: "/v1/tokens", filters: [])
            v["items"] = (v["items"] as? [Any] ?? []).map { item -> Any in
                guard var t = item as? [String: Any] else { return item }
                t["policy_summary"] = Self.policySummary(t["send_policy"])
                return t
            }
            v["scopes"] = Scope.allCases.map(\.rawValue)
            return render("tokens", v.merging(base(s, "Tokens", "tokens")) { a, _ in a })
        }
        g.post("tokens") { req, ctx in try await createToken(req, ctx) }
        g.post("tokens/:id/revoke") { req, ctx in
            let (s, _) = try await form(req, ctx)
            _ = try check(try await api.call(.delete, "/v1/tokens/" + (try segment(ctx)), context: s.context))
            // Revoking the token of this very session ends it (the next page asks to sign in).
            return Page.redirect("/console/tokens")
        }
        g.get("suppressions") { req, ctx in
            let s = try await signed(req, ctx)
            return try await listPage(s, req, "suppressions", "Suppressions", api: "/v1/suppressions", filters: ["email"])
        }
        g.post("suppressions") { req, ctx in
            let (s, f) = try await form(req, ctx)
            var body: [String: JSONValue] = ["email": .string(f["email"]?.first ?? "")]
            if let d = f["detail"]?.first, !d.isEmpty { body["detail"] = .string(d) }
            _ = try check(try await api.call(.post, "/v1/suppressions", body: .object(body), context: s.context))
            return Page.redirect("/console/suppressions")
        }
        g.post("suppressions/:id/delete") { req, ctx in
            let (s, _) = try await form(req, ctx)
            _ = try check(try await api.call(.delete, "/v1/suppressions/" + (try segment(ctx)), context: s.context))
            return Page.redirect("/console/suppressions")
        }
        g.get("webhooks") { req, ctx in
            let s = try await signed(req, ctx)
            return try await listPage(s, req, "webhooks", "Webhooks", api: "/v1/webhooks", filters: [])
        }
        g.get("webhooks/:id") { req, ctx in
            let s = try await signed(req, ctx)
            let id = try segment(ctx)
            var v = base(s, "Webhook", "webhooks")
            v["webhook"] = values(try await get(s, "/v1/webhooks/" + id))
            let deliveries = try await listValues(s, req, "webhooks/" + id, api: "/v1/webhooks/\(id)/deliveries", filters: [])
            return render("webhook", v.merging(deliveries) { a, _ in a })
        }
        g.get("inboxes") { req, ctx in
            let s = try await signed(req, ctx)
            return try await listPage(s, req, "inboxes", "Inboxes", api: "/v1/inboxes", filters: [])
        }
    }

    // MARK: pages with more than one source

    func overview(_ s: Signed) async throws -> Response {
        var v = base(s, "Overview", "overview")
        let scopes = s.session.token.scopes
        let midnight = Date(timeIntervalSince1970: (clock.now().timeIntervalSince1970 / 86400).rounded(.down) * 86400)  // UTC
        let types: [EventType] = scopes.allows(.inboxesRead) ? [.messageSent, .messageReceived, .messageBounced, .messageComplained] : []
        let counts = try await reads.counts(org: s.session.token.orgID, since: midnight, types: types)
        if scopes.allows(.inboxesRead) {
            v["today"] = [
                "sent": counts.events["message.sent"] ?? 0, "received": counts.events["message.received"] ?? 0,
                "bounced": counts.events["message.bounced"] ?? 0, "complained": counts.events["message.complained"] ?? 0,
            ]
        }
        if scopes.allows(.webhooksRead) { v["webhooks_failing"] = ["count": counts.failingWebhooks] }
        if scopes.allows(.draftsRead) {
            // One page of the API's largest size: beyond it the tile says "or more".
            let page = try await get(s, "/v1/drafts", [("state", "pending"), ("limit", "200")])
            v["drafts_pending"] = ["count": Self.elements(page["data"]).count, "more": page["next_cursor"]?.string != nil]
        }
        if scopes.allows(.inboxesRead) {
            // Inboxes are few per organization: the API's largest page, "or more" beyond it.
            let page = try await get(s, "/v1/inboxes", [("limit", "200")])
            let paused = Self.elements(page["data"]).filter { $0["paused"] == .bool(true) }
            v["paused_inboxes"] = [
                "count": paused.count, "more": page["next_cursor"]?.string != nil, "has_items": !paused.isEmpty,
                "items": paused.map { ["address": $0["address"]?.string ?? "", "reason": $0["paused_reason"]?.string ?? ""] },
            ]
        }
        v["day"] = String(RFC3339.string(midnight).prefix(10))
        return render("overview", v)
    }

    func sequence(_ s: Signed, _ req: Request, _ ctx: AppContext) async throws -> Response {
        let id = try segment(ctx)
        var v = base(s, "Sequence", "sequences")
        let seq = try await get(s, "/v1/sequences/" + id)
        var sv = values(seq) as? [String: Any] ?? [:]
        if case .array(let steps)? = seq["emails"] {
            sv["steps"] = steps.enumerated().map { i, step in (values(step) as? [String: Any] ?? [:]).merging(["number": i + 1]) { a, _ in a } }
        }
        v["sequence"] = sv
        // The counts by state come from the statistics' counters, not a count of the enrollments.
        let stats = try await get(s, "/v1/sequences/\(id)/stats")
        v["stats"] = Self.statistics(stats)
        v["states"] = ["active", "paused", "completed", "exited", "cancelled", "failed"].compactMap { state -> [String: Any]? in
            guard let n = stats[state]?.number, n > 0 else { return nil }
            return ["state": state, "count": Int(n)]
        }
        return render("sequence", v)
    }

    /// A token's own send policy in a line ("100 emails/day, only example.com, approval: llm_steps").
    static func policySummary(_ policy: Any?) -> String? {
        guard let p = policy as? [String: Any] else { return nil }
        var parts: [String] = []
        if let n = p["daily_email_cap"] { parts.append("\(n) emails/day") }
        if let n = p["daily_enrollment_cap"] { parts.append("\(n) enrollments/day") }
        if let d = p["allowed_domains"] as? [Any], !d.isEmpty { parts.append("only " + d.map { "\($0)" }.joined(separator: " ")) }
        if let d = p["blocked_domains"] as? [Any], !d.isEmpty { parts.append("not " + d.map { "\($0)" }.joined(separator: " ")) }
        if let a = p["require_approval"] { parts.append("approval: \(a)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    static func elements(_ v: JSONValue?) -> [JSONValue] {
        if case .array(let a)? = v { return a }
        return []
    }

    /// The statistics as the page shows them: rates as percentages, exits by reason as a list,
    /// and the steps numbered from 1.
    static func statistics(_ stats: JSONValue) -> [String: Any] {
        var v = values(stats) as? [String: Any] ?? [:]
        func percent(_ rate: JSONValue?) -> String? { rate?.number.map { String(format: "%.1f%%", $0 * 100) } }
        v["reply_rate"] = percent(stats["reply_rate"])
        if case .object(let reasons)? = stats["exited_by_reason"] {
            v["exits"] = reasons.sorted { $0.key < $1.key }.map {
                ["reason": $0.key, "count": $0.value.number.map { Int($0) } ?? 0] as [String: Any]
            }
            v["has_exits"] = !reasons.isEmpty
        }
        v["steps"] = Self.elements(stats["steps"]).map { step -> [String: Any] in
            var sv = values(step) as? [String: Any] ?? [:]
            sv["number"] = Int(step["step_index"]?.number ?? 0) + 1
            // Never absent: a missing key would be looked up in the sequence's statistics.
            sv["reply_rate"] = percent(step["reply_rate"]) ?? "-"
            return sv
        }
        v["has_steps"] = !elements(stats["steps"]).isEmpty
        return v
    }

    func enrollment(_ s: Signed, _ ctx: AppContext) async throws -> Response {
        var v = base(s, "Enrollment", "enrollments")
        let e = try await get(s, "/v1/sequences/enrollments/" + (try segment(ctx)))
        var ev = values(e) as? [String: Any] ?? [:]
        let state = e["state"]?.string
        ev["can_pause"] = state == "active"
        ev["can_resume"] = state == "paused"
        ev["can_cancel"] = state == "active" || state == "paused"
        v["enrollment"] = ev
        let events = try await reads.timeline(org: s.session.token.orgID, enrollment: e["id"]?.string ?? "", limit: 200)
        v["events"] = events.map { entry -> [String: Any] in
            var details: [[String: String]] = []
            if case .object(let o) = entry.data {
                for (key, value) in o.sorted(by: { $0.key < $1.key }) where value != .null {
                    details.append(["key": key, "value": value.string ?? value.serialized])
                }
            }
            return ["type": entry.type, "at": RFC3339.string(entry.at), "details": details]
        }
        return render("enrollment", v)
    }

    static let draftStates = ["pending", "approved", "rejected", "expired", "voided"]

    /// Pending drafts unless another state (or `any`) is chosen.
    func drafts(_ s: Signed, _ req: Request) async throws -> Response {
        let chosen = req.uri.queryParameters["state"].map(String.init) ?? ""
        let state = chosen.isEmpty ? "pending" : chosen
        var v: [String: Any]
        if state == "any" {
            v = try await listValues(s, req, "drafts", api: "/v1/drafts", filters: [], keep: [("state", "any")])
        } else {
            // The API validates the state (422 naming it for an unknown one).
            v = try await listValues(s, req, "drafts", api: "/v1/drafts", filters: [], fixed: [("state", state)], keep: [("state", state)])
        }
        v["items"] = (v["items"] as? [Any] ?? []).map { item -> Any in
            guard var d = item as? [String: Any] else { return item }
            d["step_number"] = (d["step_index"] as? Int ?? 0) + 1
            return d
        }
        v["states"] = (["any"] + Self.draftStates).map { ["state": $0, "selected": $0 == state] as [String: Any] }
        v["filter_state"] = state
        v["can_decide"] = s.session.token.scopes.allows(.draftsWrite)
        return render("drafts", v.merging(base(s, "Drafts", "drafts")) { a, _ in a })
    }

    func draft(_ s: Signed, _ ctx: AppContext) async throws -> Response {
        var v = base(s, "Draft", "drafts")
        let d = try await get(s, "/v1/drafts/" + (try segment(ctx)))
        var dv = values(d) as? [String: Any] ?? [:]
        dv["pending"] = d["state"]?.string == "pending"
        dv["step_number"] = Int(d["step_index"]?.number ?? 0) + 1
        dv["edited"] = d["original_subject"] != nil || d["original_body"] != nil
        v["draft"] = dv
        v["can_decide"] = s.session.token.scopes.allows(.draftsWrite)
        return render("draft", v)
    }

    /// Approves as shown, or with the subject and body as edited: only a changed field is sent,
    /// so an untouched form records no edit.
    func approveDraft(_ req: Request, _ ctx: AppContext) async throws -> Response {
        let (s, f) = try await form(req, ctx)
        let id = try segment(ctx)
        let current = try await get(s, "/v1/drafts/" + id)
        // Browsers send a textarea's line breaks as CRLF.
        func field(_ name: String) -> String? { f[name]?.first.map { $0.replacingOccurrences(of: "\r\n", with: "\n") } }
        var edit: [String: JSONValue] = [:]
        if let subject = field("subject"), subject != current["subject"]?.string { edit["subject"] = .string(subject) }
        if let body = field("body"), body != current["body"]?.string?.replacingOccurrences(of: "\r\n", with: "\n") {
            edit["body"] = .string(body)
        }
        _ = try check(try await api.call(.post, "/v1/drafts/\(id)/approve", body: .object(edit), context: s.context))
        return Page.redirect("/console/drafts/" + id)
    }

    func threads(_ s: Signed, _ req: Request) async throws -> Response {
        // One inbox's threads, or (no inbox chosen) the threads awaiting a reply across inboxes.
        let inbox = req.uri.queryParameters["inbox_id"].map(String.init) ?? ""
        var v: [String: Any]
        if inbox.isEmpty {
            v = try await listValues(s, req, "threads", api: "/v1/threads", filters: [], fixed: [("awaiting_reply", "true")])
            v["awaiting"] = true
        } else {
            v = try await listValues(
                s, req, "threads", api: "/v1/inboxes/\(InProcessAPI.encode(inbox))/threads", filters: [], fixed: [], keep: [("inbox_id", inbox)])
        }
        v["inbox_id"] = inbox
        return render("threads", v.merging(base(s, "Threads", "threads")) { a, _ in a })
    }

    func createToken(_ req: Request, _ ctx: AppContext) async throws -> Response {
        let (s, f) = try await form(req, ctx)
        var body: [String: JSONValue] = [
            "name": .string(f["name"]?.first ?? ""), "scopes": .array((f["scopes"] ?? []).map { .string($0) }),
        ]
        if let days = f["expires_in_days"]?.first, !days.isEmpty {
            guard let n = Int(days), (1...3650).contains(n) else { throw NudgeError.validation("expires_in_days", "Expiry must be 1 to 3650 days.") }
            body["expires_at"] = .string(RFC3339.string(clock.now().addingTimeInterval(Double(n) * 86400)))
        }
        if let policy = try Self.sendPolicy(f) { body["send_policy"] = policy }
        let issued = try check(try await api.call(.post, "/v1/tokens", body: .object(body), context: s.context))
        // Answered once, in this response (no-store): the secret is never written into a later page.
        var v = base(s, "Token created", "tokens")
        var shown = values(issued) as? [String: Any] ?? [:]
        shown["policy_summary"] = Self.policySummary(shown["send_policy"])
        v["issued"] = shown
        return render("token-created", v)
    }

    /// The token form's send policy: only the fields filled in (the API validates them and names
    /// the one it refuses); nil when none is, so the organization's defaults apply.
    static func sendPolicy(_ f: [String: [String]]) throws -> JSONValue? {
        func text(_ name: String) -> String? {
            guard let v = f[name]?.first?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        var p: [String: JSONValue] = [:]
        for cap in ["daily_email_cap", "daily_enrollment_cap"] {
            guard let v = text(cap) else { continue }
            guard let n = Int(v), n >= 0 else { throw NudgeError.validation("send_policy.\(cap)", "\(cap) must be a whole number of 0 or more.") }
            p[cap] = .number(Double(n))
        }
        for list in ["allowed_domains", "blocked_domains"] {
            guard let v = text(list) else { continue }
            let domains = v.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map { JSONValue.string(String($0)) }
            p[list] = .array(domains)
        }
        if let v = text("require_approval") { p["require_approval"] = .string(v) }
        return p.isEmpty ? nil : .object(p)
    }

    // MARK: helpers

    func base(_ s: Signed, _ title: String, _ nav: String) -> [String: Any] {
        ["title": title, "csrf": s.session.csrf, "who": s.session.token.name, "org": s.session.token.orgID, "nav_" + nav: true, "signed": true]
    }

    func render(_ template: String, _ v: [String: Any]) -> Response {
        Page(status: .ok, html: templates.render(template, v)).response
    }

    func segment(_ ctx: AppContext) throws -> String {
        guard let id = ctx.parameters.get("id"), !id.isEmpty else { throw NudgeError.notFound("item") }
        return InProcessAPI.encode(id)
    }

    func get(_ s: Signed, _ path: String, _ query: [(String, String)] = []) async throws -> JSONValue {
        try check(try await api.call(.get, path, query: query, context: s.context))
    }

    /// An API answer, or the console's refusal for its status (the API's message kept).
    func check(_ a: InProcessAPI.Answer) throws -> JSONValue {
        if a.ok { return a.body }
        let message = a.body["error"]?["message"]?.string ?? "The request was refused."
        switch a.status {
        case 401: throw Refusal.signIn
        case 403: throw NudgeError(.forbidden, message)
        case 404: throw NudgeError.notFound("item")
        case 409: throw NudgeError.conflict(message)
        case 413: throw NudgeError(.tooLarge, message)
        case 429: throw NudgeError(.conflict, "Too many requests; wait a moment.")
        case 500...: throw NudgeError.unavailable
        default: throw NudgeError(.validation, message)
        }
    }

    func listPage(_ s: Signed, _ req: Request, _ page: String, _ title: String, api: String, filters: [String]) async throws -> Response {
        let v = try await listValues(s, req, page, api: api, filters: filters)
        return render(page, v.merging(base(s, title, page)) { a, _ in a })
    }

    /// A page of a list: `items`, the filters as given, and `next` (the console URL of the
    /// next page, from the API's `next_cursor`).
    func listValues(
        _ s: Signed, _ req: Request, _ page: String, api: String, filters: [String], fixed: [(String, String)] = [], keep: [(String, String)] = []
    ) async throws -> [String: Any] {
        let q = req.uri.queryParameters
        let given: [(String, String)] = filters.compactMap { name in q[Substring(name)].map { (name, String($0)) } }.filter { !$0.1.isEmpty }
        var query = given + fixed
        if let cursor = q["cursor"], !cursor.isEmpty { query.append(("cursor", String(cursor))) }
        query.append(("limit", "25"))
        let body = try await get(s, api, query)
        var v: [String: Any] = ["items": values(body["data"] ?? .array([])) ?? []]
        for (k, value) in given { v["filter_" + k] = value }
        if let next = body["next_cursor"]?.string {
            let params = (given + keep + [("cursor", next)]).map { "\($0.0)=\(InProcessAPI.encode($0.1))" }.joined(separator: "&")
            v["next"] = "/console/\(page)?\(params)"
        }
        return v
    }
}
