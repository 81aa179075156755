import Foundation
import HTTPTypes
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeWorkers
import PostgresNIO
import Testing

/// Walks every operation of `docs/openapi.json` (so a newly documented route is covered without
/// touching this file) and checks, for each one that needs a token:
///  (a) another organization's admin token against this organization's real ids: 404 for ids in
///      the path, 404 or 422 for ids in the body, never a leak of this organization's ids, and no
///      row of this organization changes;
///  (b) a token holding every scope except one of the operation's `x-required-scopes`: 403 naming
///      that scope, and no row changes;
///  (c) a token holding exactly `x-required-scopes`: neither 401 nor 403 (the list is complete),
///      and no 5xx.
/// Request bodies are the operation's `default` example from the document, with the `xxx_123`
/// placeholder ids of the brief replaced by real fixture ids; every documented request body must
/// therefore carry a valid `default` example.
@Suite struct RouteMatrixTests {
    struct MatrixError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Operation: Sendable, CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let scopes: [String]
        let hasBody: Bool
        /// The `default` example of an `application/json` body.
        let json: JSONValue?
        /// The `default` example of a `message/rfc822` body.
        let raw: String?
        var description: String { "\(method.rawValue) \(path)" }
    }

    static var documentURL: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // NudgeTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("docs/openapi.json")
    }

    static let httpMethods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The operations that need a token, and the names of those that do not.
    static func loadOperations() throws -> (secured: [Operation], skipped: [String]) {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        guard let doc = JSONValue.parse(text), case .object(let paths)? = doc["paths"] else {
            throw MatrixError("\(documentURL.path) is not JSON or has no paths")
        }
        let globalSecurity: Bool = {
            if case .array(let a)? = doc["security"] { return !a.isEmpty }
            return false
        }()
        var secured: [Operation] = []
        var skipped: [String] = []
        for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
            guard case .object(let methods) = item else { continue }
            for (name, op) in methods.sorted(by: { $0.key < $1.key }) where httpMethods.contains(name) {
                guard let method = HTTPRequest.Method(name.uppercased()) else { throw MatrixError("bad method \(name) on \(path)") }
                let needsToken: Bool
                if case .array(let a)? = op["security"] { needsToken = !a.isEmpty } else { needsToken = globalSecurity }
                if !needsToken {
                    skipped.append("\(method.rawValue) \(path)")
                    continue
                }
                guard case .array(let scopeValues)? = op["x-required-scopes"] else {
                    throw MatrixError("\(method.rawValue) \(path) needs a token but has no x-required-scopes")
                }
                let scopes = scopeValues.compactMap(\.string)
                guard scopes.count == scopeValues.count else { throw MatrixError("\(method.rawValue) \(path): x-required-scopes must be strings") }
                let content = op["requestBody"]?["content"]
                secured.append(
                    Operation(
                        method: method, path: path, scopes: scopes,
                        hasBody: op["requestBody"] != nil,
                        json: content?["application/json"]?["examples"]?["default"]?["value"],
                        raw: content?["message/rfc822"]?["examples"]?["default"]?["value"]?.string))
            }
        }
        return (secured, skipped)
    }

    /// Path segment before a `{param}` → the id prefix of the fixture to put there.
    static let resourcePrefix: [String: String] = [
        "tokens": "tok", "inboxes": "inb", "contacts": "ctc", "sequences": "seq", "enrollments": "enr",
        "workflow-rules": "wfr", "threads": "thr", "messages": "msg", "suppressions": "sup", "events": "evt",
        "webhooks": "whk", "deliveries": "whd", "drafts": "drf", "domains": "dom",
    ]

    static func concretePath(_ template: String, _ ids: [String: String]) throws -> String {
        var segments = template.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for i in segments.indices where segments[i].hasPrefix("{") {
            guard i > 0, let prefix = resourcePrefix[segments[i - 1]], let id = ids[prefix] else {
                throw MatrixError(
                    "no fixture id for \(segments[i]) in \(template); add the resource to RouteMatrixTests.resourcePrefix and the fixtures")
            }
            segments[i] = id
        }
        return segments.joined(separator: "/")
    }

    /// Replaces the brief's placeholder ids (`inb_123`, `seq_123`, …) in every string.
    static func substitute(_ value: JSONValue, _ ids: [String: String]) -> JSONValue {
        switch value {
        case .string(let s):
            var t = s
            for (prefix, id) in ids { t = t.replacingOccurrences(of: "\(prefix)_123", with: id) }
            return .string(t)
        case .array(let a): return .array(a.map { substitute($0, ids) })
        case .object(let o): return .object(o.mapValues { substitute($0, ids) })
        default: return value
        }
    }

    static let fixtureMessage =
        "From: Avery Chen <buyer@example.com>\r\nTo: sales@acme.test\r\nSubject: Proposal for review\r\n"
        + "Message-ID: <route-matrix-1@example.com>\r\nDate: Mon, 17 Nov 2025 10:00:00 +0000\r\n\r\nPlease send the proposal.\r\n"

    /// The request to send for `op`: concrete path, JSON text or raw bytes.
    static func request(_ op: Operation, _ ids: [String: String]) throws -> (path: String, json: String?, raw: [UInt8]?) {
        let path = try concretePath(op.path, ids)
        guard op.hasBody else { return (path, nil, nil) }
        if let json = op.json { return (path, substitute(json, ids).serialized, nil) }
        if let raw = op.raw { return (path, nil, Array(substitute(.string(raw), ids).string!.utf8)) }
        Issue.record(
            "\(op) has a request body without a `default` example in docs/openapi.json; add a valid one (placeholder ids like inb_123 are replaced)")
        return (path, "{}", nil)
    }

    /// Tenant tables whose rows of this organization must not change; `tokens` without
    /// `last_used_at` (written in the background), `idempotency_keys` left out (housekeeping).
    static let tables = [
        "inboxes", "contacts", "contact_emails", "sequences", "sequence_versions", "threads", "messages",
        "enrollments", "deliveries", "inbox_daily_sends", "suppressions", "workflow_rules", "judgements",
        "events", "llm_calls", "drafts",
    ]

    /// Count and content hash of every table, restricted to `org`.
    static func snapshot(_ h: Harness, org: String) async throws -> [String] {
        // Ids are generated base62; checked anyway since they are spliced into the SQL.
        precondition(org.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
        var parts = tables.map { table in
            "(SELECT '\(table)=' || count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \(table) t WHERE t.org_id = '\(org)')"
        }
        parts.append(
            """
            (SELECT 'tokens=' || count(*) || ':' || coalesce(md5(string_agg(concat_ws(',', id, name, scopes::text, expires_at::text, revoked_at::text), '|' ORDER BY id)), '') \
            FROM tokens WHERE org_id = '\(org)')
            """)
        let sql = "SELECT concat_ws(' ', \(parts.joined(separator: ", ")))"
        let rows = try await h.services.db.system { conn in
            try await conn.query(PostgresQuery(unsafeSQL: sql), logger: h.services.logger).decode(String.self).collect()
        }
        return rows.first.map { $0.split(separator: " ").map(String.init) } ?? []
    }

    static func changed(_ before: [String], _ after: [String]) -> String {
        zip(before, after).filter { $0.0 != $0.1 }.map { "\($0.0) → \($0.1)" }.joined(separator: "; ")
    }

    @Test func everyDocumentedRouteIsTenantIsolatedAndScoped() async throws {
        let (operations, skipped) = try Self.loadOperations()
        #expect(operations.count >= 40, "docs/openapi.json documents only \(operations.count) secured operations")
        for name in skipped {
            #expect(!name.contains(" /v1/"), "\(name) is documented without security, but every /v1 route needs a token")
        }

        // A (never reachable) LLM endpoint, so that the brief's examples with prompts and exit conditions validate.
        // A DNS server on loopback where nothing answers: a domain's verify finds no records.
        try await Harness.run(
            llm: LLMSettings(url: "http://127.0.0.1:9/v1", model: "x", apiKey: nil),
            configure: { $0.dnsServer = DNSServerAddress(host: "127.0.0.1", port: 9) }
        ) { h in
            // Fixtures of this organization, through the real API.
            let inbox = try await h.inbox()
            // Before any enrollment exists, so that no exit-condition judgement is queued, and
            // before its sender is a contact, so that no intent review is: another organization's
            // clock advance would run either.
            let inbound = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound", raw: Array(Self.fixtureMessage.utf8))
            try #require(inbound.status == 202, "inbound: \(inbound.body)")
            let message = try #require(inbound["message_id"]?.string)
            let thread = try #require(inbound["thread_id"]?.string)
            let contact = try await h.call(
                .post, "/v1/contacts",
                #"""
                {"inbox_id": "\#(inbox)", "full_name": "Avery Chen", "emails": [{"label": "work", "address": "buyer@example.com"}]}
                """#)
            try #require(contact.status == 201, "contact: \(contact.body)")
            let sequence = try await h.call(
                .post, "/v1/sequences",
                #"""
                {"name": "Matrix sequence", "sender_inbox_id": "\#(inbox)", "exit_on_reply": true,
                 "emails": [{"delay_days": 2, "subject": "Following up", "body": "Checking in, {{contact.first_name}}."},
                            {"type": "reminder", "delay_days": 3, "note": "Call them"}]}
                """#)
            try #require(sequence.status == 201, "sequence: \(sequence.body)")
            let enrollment = try await h.call(
                .post, "/v1/sequences/enrollments",
                #"""
                {"inbox_id": "\#(inbox)", "sequence_id": "\#(sequence.id)", "recipient": {"contact_id": "\#(contact.id)"},
                 "source": {"type": "email", "message_id": "\#(message)", "thread_id": "\#(thread)"}}
                """#)
            try #require(enrollment.status == 201, "enrollment: \(enrollment.body)")
            let rule = try await h.call(
                .post, "/v1/workflow-rules",
                #"""
                {"inbox_id": "\#(inbox)", "trigger": {"type": "label_added", "label": "matrix"}, "action": {"type": "enroll", "sequence_id": "\#(sequence.id)"}}
                """#)
            try #require(rule.status == 201, "workflow rule: \(rule.body)")
            let suppression = try await h.call(.post, "/v1/suppressions", #"{"email": "no-mail@example.com", "reason": "manual"}"#)
            try #require(suppression.status == 201, "suppression: \(suppression.body)")
            let token = try await h.call(.post, "/v1/tokens", #"{"name": "matrix-fixture", "scopes": ["contacts:read"]}"#)
            try #require(token.status == 201, "token: \(token.body)")

            // A webhook endpoint and a (test) delivery, through the store: the API would resolve the
            // example host, and tests do not depend on DNS.
            let webhook = ID.make(.whk)
            _ = try await h.services.webhooks.create(
                org: h.org, id: webhook, url: "https://hooks.example.com/nudge", description: nil, types: ["suppression.created"],
                sealedSecret: try h.services.webhookSecrets.seal(WebhookSecrets.generate(), org: h.org, webhookID: webhook), now: h.clock.now())
            let delivery = try #require(try await h.services.webhooks.queueTest(org: h.org, webhookID: webhook, now: h.clock.now()))

            // A draft: a step of a token whose policy requires approval, rendered by the dispatcher.
            // Its enrollment is paused, so that approving it (as the matrix does) sends nothing
            // while later operations compare rows.
            let approver = try await h.call(
                .post, "/v1/tokens",
                #"{"name": "matrix-drafts", "scopes": ["sequences:write", "email:send"], "send_policy": {"require_approval": "all_steps"}}"#)
            try #require(approver.status == 201, "approver: \(approver.body)")
            let drafted = try await h.enrollAdHoc(
                inbox: inbox, email: "drafted@example.com", steps: #"[{"delay_days": 0, "subject": "Hello", "body": "A line."}]"#,
                token: try #require(approver["token"]?.string))
            try #require(drafted.status == 201, "drafted: \(drafted.body)")
            try await Dispatcher(services: h.services).drain()
            let draft = try #require(try await h.call(.get, "/v1/drafts?enrollment_id=\(drafted.id)").data.first?["id"]?.string)
            try #require(try await h.call(.patch, "/v1/sequences/enrollments/\(drafted.id)", #"{"action": "pause"}"#).status == 200)

            let domain = try await h.call(.post, "/v1/domains", #"{"domain": "matrix.test"}"#)
            try #require(domain.status == 201, "domain: \(domain.body)")

            var ids: [String: String] = [
                "dom": domain.id, "drf": draft, "inb": inbox, "ctc": contact.id, "seq": sequence.id, "enr": enrollment.id, "wfr": rule.id,
                "sup": suppression.id, "tok": token.id, "msg": message, "thr": thread, "whk": webhook, "whd": delivery.id,
            ]
            let events = try await h.call(.get, "/v1/events?limit=1")
            if case .array(let list)? = events["data"], let first = list.first?["id"]?.string { ids["evt"] = first }
            for (prefix, id) in ids { try #require(id.hasPrefix(prefix + "_"), "fixture \(prefix): \(id)") }
            let ours = Array(ids.values) + [h.org]

            let (_, otherAdmin) = try await h.otherOrg()
            let nonAdmin = Scope.allCases.map(\.rawValue).filter { $0 != Scope.admin.rawValue }
            var lacking: [String: String] = [:]  // missing scope → token with every other (non-admin) scope
            var crossOrgChecks = 0
            var missingScopeChecks = 0
            var exactScopeChecks = 0
            var replayChecks = 0

            for op in operations {
                let (path, json, raw) = try Self.request(op, ids)
                let sent = ours.filter { path.contains($0) || (json?.contains($0) ?? false) }

                // (a) Another organization's admin.
                let before = try await Self.snapshot(h, org: h.org)
                let r = try await h.call(op.method, path, token: otherAdmin, json, raw: raw)
                let after = try await Self.snapshot(h, org: h.org)
                crossOrgChecks += 1
                if op.path.contains("{") {
                    #expect(
                        r.status == 404 && r.errorType == "not_found", "(a) \(op) as another organization: expected 404, got \(r.status) \(r.body)")
                } else if !sent.isEmpty {
                    #expect(
                        r.status == 404 || r.status == 422,
                        "(a) \(op) as another organization with this organization's ids in the body: expected 404 or 422, got \(r.status) \(r.body)")
                } else {
                    #expect(
                        r.status < 500 && r.status != 401 && r.status != 403, "(a) \(op) as another organization's admin: got \(r.status) \(r.body)")
                }
                for id in ours where !sent.contains(id) {
                    #expect(!r.body.contains(id), "(a) \(op) as another organization leaks \(id): \(r.body)")
                }
                #expect(before == after, "(a) \(op) as another organization changed this organization's rows: \(Self.changed(before, after))")

                // (b) Every scope but one of the required ones.
                for scope in op.scopes {
                    let t: String
                    if let cached = lacking[scope] {
                        t = cached
                    } else {
                        t = try await h.token(nonAdmin.filter { $0 != scope })
                        lacking[scope] = t
                    }
                    let before = try await Self.snapshot(h, org: h.org)
                    let r = try await h.call(op.method, path, token: t, json, raw: raw)
                    let after = try await Self.snapshot(h, org: h.org)
                    missingScopeChecks += 1
                    #expect(
                        r.status == 403 && r.errorType == "permission_error", "(b) \(op) without \(scope): expected 403, got \(r.status) \(r.body)")
                    #expect(r.json["error"]?["message"]?.string?.contains(scope) == true, "(b) \(op): the 403 should name \(scope): \(r.body)")
                    #expect(before == after, "(b) \(op) without \(scope) changed rows: \(Self.changed(before, after))")
                }

                // (d) A replayed Idempotency-Key. The admin's answer to this request is kept; the
                // same key with the same request, and with another body, from a token lacking a
                // scope is still a 403 naming it (never a replay, never a 422 that tells the key
                // was used), and another organization's admin gets its own answer, not the replay.
                guard op.method == .post else { continue }
                var keyed = HTTPFields()
                keyed[HTTPField.Name("Idempotency-Key")!] = "matrix-\(Fixture.suffix())"
                let first = try await h.call(op.method, path, json, headers: keyed, raw: raw)
                #expect(first.status < 500, "(d) \(op) as admin with a key: \(first.status) \(first.body)")
                for scope in op.scopes {
                    for body in [json, json.map { $0 + " " }] {
                        let before = try await Self.snapshot(h, org: h.org)
                        let r = try await h.call(op.method, path, token: lacking[scope], body, headers: keyed, raw: raw.map { $0 + [0x20] })
                        let after = try await Self.snapshot(h, org: h.org)
                        replayChecks += 1
                        #expect(
                            r.status == 403 && r.header("Idempotent-Replayed") == nil,
                            "(d) \(op) without \(scope), with the admin's key: expected 403 and no replay, got \(r.status) \(r.body)")
                        #expect(before == after, "(d) \(op) without \(scope) with a replayed key changed rows: \(Self.changed(before, after))")
                    }
                }
                let other = try await h.call(op.method, path, token: otherAdmin, json, headers: keyed, raw: raw)
                #expect(
                    other.header("Idempotent-Replayed") == nil,
                    "(d) \(op): another organization's admin got the replayed answer: \(other.status) \(other.body)")
            }

            // (c) Exactly the documented scopes suffice. These requests run for real, so deletions go last.
            let ordered = operations.filter { $0.method != .delete } + operations.filter { $0.method == .delete }
            for op in ordered {
                let (path, json, raw) = try Self.request(op, ids)
                let t = try await h.token(op.scopes)
                let r = try await h.call(op.method, path, token: t, json, raw: raw)
                exactScopeChecks += 1
                #expect(
                    r.status != 401 && r.status != 403 && r.status < 500,
                    "(c) \(op) with exactly x-required-scopes \(op.scopes): got \(r.status) \(r.body)")
            }

            let pairs = crossOrgChecks + missingScopeChecks + exactScopeChecks + replayChecks
            print(
                "RouteMatrix: \(operations.count) secured operations (skipped without security: \(skipped.joined(separator: ", "))); "
                    + "\(pairs) (route × check) pairs: \(crossOrgChecks) cross-organization, \(missingScopeChecks) missing-scope, \(replayChecks) missing-scope with a replayed key, \(exactScopeChecks) exact-scope"
            )
            #expect(crossOrgChecks == operations.count)
            #expect(missingScopeChecks == operations.reduce(0) { $0 + $1.scopes.count })
            #expect(replayChecks == 2 * operations.filter { $0.method == .post }.reduce(0) { $0 + $1.scopes.count })
        }
    }
}
