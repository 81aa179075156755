import Foundation
import Hummingbird
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeMCP
import NudgeTestSupport
import Testing

/// The MCP endpoint with the official Python MCP SDK as the client (mcp_peer.py), against the app
/// served on a real port; plus the route table check that keeps tools and API in step.
@Suite struct MCPTests {
    /// Every `/v1` operation has a tool decision, every decision names a real operation, and the
    /// tools build from the served OpenAPI document (no reference it cannot follow).
    @Test func everyRouteHasAToolDecision() async throws {
        try await Harness.run { h in
            let routes = RouteTable()
            registerAPI(
                ScopedRouter(group: Router(context: AppContext.self).group().group(context: TenantContext.self), routes: routes), services: h.services
            )
            let operations = routes.operations
            #expect(operations.count >= 40)
            #expect(ToolRegistry.undecided(operations) == [], "a route without an MCP tool decision in ToolCatalog")
            #expect(Set(ToolCatalog.decisions.keys).subtracting(operations.map(\.key)).sorted() == [], "decisions for routes that do not exist")
            let registry = try ToolRegistry(
                operations: operations,
                schemas: try OpenAPISchemas(contentsOf: TestCluster.packageRoot.appendingPathComponent("docs/openapi.json").path))
            #expect(registry.tools.count >= 37)
            // Scopes come from the route: send_one needs what enrolling needs.
            #expect(registry.byName["send_one"]?.route.scopes == [.sequencesWrite, .emailSend])
            #expect(registry.byName["list_threads"]?.route.scopes == [.inboxesRead])
            // Query parameters pass through from the document: every one it declares.
            #expect(
                registry.byName["list_enrollments"].map { Set($0.queryParameters) } == [
                    "limit", "cursor", "state", "contact_id", "sequence_id", "inbox_id",
                ])
            // Every tool that changes something takes idempotency_key: the document declares the
            // header on each POST, PATCH and DELETE, and the API honours it on all three.
            let changing = registry.tools.filter { $0.spec.effect != .read }
            #expect(changing.count >= 25)
            for tool in changing {
                #expect(tool.takesIdempotencyKey, "\(tool.name) (\(tool.route.key)) takes no idempotency_key")
                #expect(tool.definition["inputSchema"]?["properties"]?["idempotency_key"]?["type"]?.string == "string", "\(tool.name)")
            }
            #expect(changing.filter { $0.route.method == .post }.map(\.name).contains("approve_draft"))
            // Tools whose answers can hold received text say so in their descriptions.
            for name in ["list_events", "get_contact", "list_contacts", "get_thread", "get_message", "enroll"] {
                #expect(registry.byName[name]?.definition["description"]?.string?.hasSuffix(ToolCatalog.untrustedNote) == true, "\(name)")
            }
            // A conflict names the tool that reads the object's state.
            #expect(registry.byName["resume_enrollment"]?.reader == "get_enrollment")
            #expect(registry.byName["approve_draft"]?.reader == "get_draft")
        }
    }

    /// Received text in event data and referred contacts' names is marked, with its paths.
    @Test func receivedTextInEventsAndReferredContactsIsMarked() throws {
        let page = try #require(
            JSONValue.parse(
                """
                {"data": [
                  {"id": "evt_1", "type": "message.received", "data": {"message_id": "msg_1", "intent": "referral", "return_sentence": null,
                   "referrals": [{"name": "Maria Lopez", "email": "maria@example.com"}]}},
                  {"id": "evt_2", "type": "message.received", "data": {"message_id": "msg_2", "return_sentence": "Back on Monday.", "referrals": []}},
                  {"id": "evt_3", "type": "enrollment.exited", "data": {"enrollment_id": "enr_1", "exit_detail": "reply msg_2"}},
                  {"id": "evt_4", "type": "message.sent", "data": {"message_id": "msg_3"}},
                  {"id": "ctc_1", "full_name": "Maria Lopez", "first_name": "Maria", "emails": [{"label": "referred", "address": "maria@example.com"}]},
                  {"id": "ctc_2", "full_name": "Avery Chen", "emails": [{"label": "work", "address": "avery@example.com"}]},
                  {"id": "msg_4", "direction": "inbound", "subject": "Hi", "signature_text": "Jo", "from_name": null}
                ], "next_cursor": null}
                """))
        let (marked, paths) = Untrusted.mark(page)
        #expect(
            paths == [
                "data[0].data.referrals", "data[1].data.return_sentence", "data[2].data.exit_detail", "data[4].full_name", "data[4].first_name",
                "data[6].subject", "data[6].signature_text",
            ])
        let items = try #require(marked?["data"]?.array)
        #expect(items.map { $0[Untrusted.marker]?.bool ?? false } == [true, true, true, false, true, false, true])
    }

    /// A new route without a decision is refused when the tools are built (and so in the test
    /// above, which builds from the live route table).
    @Test func aRouteWithoutADecisionIsRefused() throws {
        let op = RouteTable.Operation(method: .post, path: "/v1/new-things", scopes: [.contactsWrite])
        #expect(ToolRegistry.undecided([op]) == ["POST /v1/new-things"])
        #expect(throws: OpenAPISchemas.SchemaError.self) {
            try ToolRegistry(operations: [op], schemas: OpenAPISchemas(document: .object(["paths": .object([:])])))
        }
    }

    /// A query parameter added to the document (an `awaiting_reply` filter on thread lists) is in
    /// the tool's schema and reaches the API request, with no change to the MCP code.
    @Test func aQueryParameterAddedToTheDocumentAppearsInTheTool() throws {
        let path = TestCluster.packageRoot.appendingPathComponent("docs/openapi.json").path
        guard case .object(var doc) = try OpenAPISchemas(contentsOf: path).document, case .object(var paths)? = doc["paths"],
            case .object(var item)? = paths["/v1/inboxes/{id}/threads"], case .object(var get)? = item["get"],
            case .array(var params)? = get["parameters"]
        else { throw OpenAPISchemas.SchemaError("unexpected document shape") }
        params.append(.object(["name": .string("awaiting_reply"), "in": .string("query"), "schema": .object(["type": .string("boolean")])]))
        get["parameters"] = .array(params)
        item["get"] = .object(get)
        paths["/v1/inboxes/{id}/threads"] = .object(item)
        doc["paths"] = .object(paths)
        let route = RouteTable.Operation(method: .get, path: "/v1/inboxes/:id/threads", scopes: [.inboxesRead])
        let tool = try #require(try ToolRegistry(operations: [route], schemas: OpenAPISchemas(document: .object(doc))).byName["list_threads"])
        #expect(tool.definition["inputSchema"]?["properties"]?["awaiting_reply"]?["type"]?.string == "boolean")
        #expect(ToolDispatch.check(["id": .string("inb_1"), "awaiting_reply": .bool(true)], tool) == nil)
        #expect(ToolDispatch.check(["id": .string("inb_1"), "awaiting_reply": .string("yes")], tool) != nil)
        let (request, _) = try ToolDispatch(clock: ManualClock()).build(
            tool, ["id": .string("inb_1"), "awaiting_reply": .bool(true), "limit": .number(5)])
        #expect(request.uri.path == "/v1/inboxes/inb_1/threads/")
        #expect(request.uri.queryParameters["awaiting_reply"] == "true")
        #expect(request.uri.queryParameters["limit"] == "5")
    }

    /// The hand-written JSON of the tool-call path: strict, bounded in depth, and the same values
    /// as Foundation's parser.
    @Test func jsonTextParsesStrictlyAndWritesCanonically() throws {
        let text = #"{"b": [1, -2.5, 1e3, true, false, null], "a": "q\"\\\/\n\u00e9\ud83d\ude00 é", "c": {}}"#
        let v = try #require(JSONText.parse(Array(text.utf8)))
        #expect(v == JSONValue.parse(text))
        #expect(String(decoding: JSONText.data(v), as: UTF8.self) == #"{"a":"q\"\\/\né😀 é","b":[1,-2.5,1000,true,false,null],"c":{}}"#)
        #expect(JSONText.parse(JSONText.data(v)) == v)
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\u12\"", "\"a\nb\"", "tru", "[1] x", "{\"a\":1,}", "NaN", "1e999"] {
            #expect(JSONText.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(JSONText.parse(Array((String(repeating: "[", count: 300) + String(repeating: "]", count: 300)).utf8)) == nil)
        #expect(JSONText.parse(Array((String(repeating: "[", count: 200) + String(repeating: "]", count: 200)).utf8)) != nil)
        #expect(String(decoding: JSONText.data(.string("\u{1}\t")), as: UTF8.self) == #""\u0001\t""#)
    }

    static func peer(_ scenario: String, _ input: [String: Any]) async throws -> MCPPeer.Outcome {
        let outcome = try await MCPPeer.run(scenario, input: input, packageRoot: TestCluster.packageRoot)
        #expect(!outcome.checks.isEmpty)
        for failure in outcome.failures { Issue.record("\(scenario): \(failure)") }
        return outcome
    }

    static func base(_ h: Harness) throws -> String { "http://127.0.0.1:\(try #require(h.client.port))" }

    @Test func toolsListedPerScopeSet() async throws {
        try await Harness.run(testing: .live) { h in
            let tokens: [String: String] = [
                "admin": h.admin,
                "contacts:read": try await h.token(["contacts:read"]),
                "inboxes:read": try await h.token(["inboxes:read"]),
            ]
            _ = try await Self.peer("scopes", ["base": try Self.base(h), "tokens": tokens])
        }
    }

    static let nudge = TestCluster.packageRoot.appendingPathComponent(".build/debug/nudge").path

    /// Every tool against REST, over streamable HTTP and over stdio (`nudge mcp` relaying to the
    /// server): the same scenario, with writes, conflicts and marked mail on both transports.
    @Test(arguments: ["http", "stdio"]) func everyToolMatchesItsRESTOperation(transport: String) async throws {
        try await Harness.run(configure: { $0.webhookAllowPrivate = true }, testing: .live) { h in
            let outcome = try await Self.peer(
                "parity",
                [
                    "base": try Self.base(h), "tokens": ["admin": h.admin], "inbox_address": "sales-\(Fixture.suffix())@acme.test",
                    "transport": transport, "nudge": Self.nudge,
                ])
            #expect(outcome.output["called"]?.contains("send_one") == true)
        }
    }

    /// send_one into an existing thread lands there; one at a time is called off by a reply
    /// that comes first, and nothing is sent.
    @Test func sendOneInAThreadAndCalledOffByAReply() async throws {
        try await Harness.run(testing: .live) { h in
            let address = "sales-\(Fixture.suffix())@acme.test"
            let inbox = try await h.inbox(address)
            let outcome = try await Self.peer(
                "send_one",
                [
                    "base": try Self.base(h), "tokens": ["admin": h.admin], "inbox": inbox, "inbox_address": address,
                    "send_at": RFC3339.string(h.clock.now().addingTimeInterval(3600)),
                ])
            let later = try await h.call(.get, "/v1/sequences/enrollments/\(outcome.output["later"] ?? "")")
            #expect(later["exit_reason"]?.string == "replied")
            #expect(try await h.events("message.sent").filter { $0["data"]?["enrollment_id"]?.string == later.id }.isEmpty)
        }
    }

    /// `/mcp` cannot be served without its tools: a document that is missing, or lacks an
    /// operation the routes have, stops the start with the reason instead of dropping `/mcp`.
    @Test func startFailsWhenTheToolsCannotBeBuilt() async throws {
        let missing = await #expect(throws: MCPSetupError.self) {
            try await Harness.run(configure: { $0.openAPIPath = "/nonexistent/openapi.json" }) { _ in }
        }
        #expect(missing?.description.contains("/nonexistent/openapi.json") == true)

        let path = TestCluster.packageRoot.appendingPathComponent("docs/openapi.json").path
        guard case .object(var doc) = try OpenAPISchemas(contentsOf: path).document, case .object(var paths)? = doc["paths"] else {
            throw OpenAPISchemas.SchemaError("unexpected document shape")
        }
        paths["/v1/drafts/{id}/reject"] = nil
        doc["paths"] = .object(paths)
        let partial = (ProcessInfo.processInfo.environment["NUDGE_TEST_TMP"] ?? NSTemporaryDirectory()) + "/openapi-\(Fixture.suffix()).json"
        try Data(JSONValue.object(doc).serialized.utf8).write(to: URL(fileURLWithPath: partial))
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let lacking = await #expect(throws: MCPSetupError.self) {
            try await Harness.run(configure: { $0.openAPIPath = partial }) { _ in }
        }
        #expect(lacking?.description.contains("POST /v1/drafts/{id}/reject") == true)
    }

    @Test func agentScriptOverMCPAlone() async throws {
        try await Harness.run(testing: .live) { h in
            let inbox = try await h.inbox()
            let agent = try await h.token(["contacts:read", "contacts:write", "sequences:read", "sequences:write", "email:send", "inboxes:read"])
            let outcome = try await Self.peer("agent", ["base": try Self.base(h), "tokens": ["admin": h.admin, "agent": agent], "inbox": inbox])
            // Audit: what the agent did over MCP carries its token, as over REST.
            let enrollment = try await h.call(.get, "/v1/sequences/enrollments/\(outcome.output["enrollment"] ?? "")")
            #expect(enrollment["created_by"]?.string == (try await h.tokenID(agent)))
        }
    }

    @Test func crossOrganizationRetriesAndProtocolErrors() async throws {
        try await Harness.run(testing: .live) { h in
            let (inbox, enrollment, thread) = try await DispatchTests.setUp(h)
            let contact = try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")["contact_id"]?.string ?? ""
            let other = try await h.otherOrg()
            let sendAt = RFC3339.string(h.clock.now().addingTimeInterval(3600))
            let outcome = try await Self.peer(
                "guards",
                [
                    "base": try Self.base(h), "tokens": ["admin": h.admin, "other": other.admin], "inbox": inbox, "enrollment": enrollment,
                    "thread": thread, "contact": contact, "send_at": sendAt,
                ])
            // The retried send_one made one enrollment, and it sends one email.
            let mine = try await h.enrollments(
                ofContact: try await h.call(.get, "/v1/contacts/?email=retry@example.com")["data"]?.array?.first?["id"]?.string ?? "")
            #expect(mine.count == 1)
            #expect(mine.first?["id"]?.string == outcome.output["send_one"])
            _ = try await h.advance(seconds: 7200)
            let sent = try await h.call(.get, "/v1/sequences/enrollments/\(outcome.output["send_one"] ?? "")")
            #expect(sent["state"]?.string == "completed")
            #expect(sent["timeline"]?.array?.filter { $0["outcome"]?.string == "sent" }.count == 1)
            // Nothing of this organization changed through the other one's calls.
            #expect(try await h.call(.get, "/v1/sequences/enrollments/\(enrollment)")["state"]?.string == "active")
        }
    }

    @Test func stdioRelaysToTheServer() async throws {
        try await Harness.run(testing: .live) { h in
            let contact = try await h.contact(Fixture.address()).id
            let reader = try await h.token(["contacts:read"])
            _ = try await Self.peer(
                "stdio", ["base": try Self.base(h), "tokens": ["reader": reader], "contact": contact, "nudge": Self.nudge])
        }
    }

    /// The API's rate limit holds for tool calls (one request each) and answers a tool error with
    /// the wait.
    @Test func rateLimitIsAToolErrorWithTheWait() async throws {
        // A slow refill: under the whole suite's load twenty calls can take longer than the burst lasts.
        try await Harness.run(configure: { $0.rateLimit = (perSecond: 0.02, burst: 6) }, testing: .live) { h in
            _ = try await Self.peer("limits", ["base": try Self.base(h), "tokens": ["admin": h.admin]])
        }
    }
}
