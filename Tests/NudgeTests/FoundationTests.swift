import Foundation
import HTTPTypes
import Logging
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import PostgresNIO
import Testing

/// Tokens and scopes, idempotency, migrations, row-level security, and the error envelope.
@Suite struct FoundationTests {
    static let migrationsDir = TestCluster.packageRoot.appendingPathComponent("migrations").path
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    static func expectAuthError(_ r: Reply, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 401, "\(what): \(r.status) \(r.body)", sourceLocation: sourceLocation)
        #expect(r.errorType == "authentication_error", "\(what): \(r.body)", sourceLocation: sourceLocation)
        #expect(!r.errorMessage.isEmpty, "\(what): no message", sourceLocation: sourceLocation)
    }

    // MARK: - Tokens

    @Test func tokenCreateListPatchRevoke() async throws {
        try await Harness.run { h in
            let created = try await h.call(.post, "/v1/tokens/", #"{"name": "ci", "scopes": ["contacts:read"]}"#)
            #expect(created.status == 201, "\(created.body)")
            let secret = created["token"]?.string ?? ""
            #expect(secret.hasPrefix("nudge_"))
            #expect(created.id.hasPrefix("tok_"))
            #expect(created["name"]?.string == "ci")
            #expect(created["scopes"] == .array(["contacts:read"]))

            // The secret is shown once: never in the list nor in the single read.
            let list = try await h.call(.get, "/v1/tokens/")
            #expect(list.status == 200)
            #expect(list.data.contains { $0["id"]?.string == created.id })
            #expect(list.data.allSatisfy { $0["token"] == nil })
            #expect(!list.body.contains(secret))
            let one = try await h.call(.get, "/v1/tokens/\(created.id)/")
            #expect(one.status == 200)
            #expect(one["token"] == nil)
            #expect(!one.body.contains(secret))
            #expect(one["scopes"] == .array(["contacts:read"]))

            // The new token works, with exactly its scopes.
            let me = try await h.call(.get, "/v1/tokens/me/", token: secret)
            #expect(me.status == 200)
            #expect(me.id == created.id)
            let refused = try await h.contact(Fixture.address(), token: secret)
            #expect(refused.status == 403)
            #expect(refused.errorMessage.contains("contacts:write"))

            let patched = try await h.call(.patch, "/v1/tokens/\(created.id)/", #"{"scopes": ["contacts:read", "contacts:write"]}"#)
            #expect(patched.status == 200, "\(patched.body)")
            #expect(patched["scopes"] == .array(["contacts:read", "contacts:write"]))
            #expect(patched["token"] == nil)
            #expect(try await h.contact(Fixture.address(), token: secret).status == 201)

            let revoked = try await h.call(.delete, "/v1/tokens/\(created.id)/")
            #expect(revoked.status == 200, "\(revoked.body)")
            #expect(revoked["revoked_at"]?.string != nil)
            Self.expectAuthError(try await h.call(.get, "/v1/tokens/me/", token: secret), "revoked")
            Self.expectAuthError(try await h.contact(Fixture.address(), token: secret), "revoked, write")
        }
    }

    @Test func expiredTokenIsRefused() async throws {
        try await Harness.run { h in
            let expires = RFC3339.string(h.clock.now().addingTimeInterval(5))
            let created = try await h.call(.post, "/v1/tokens/", #"{"name": "short", "scopes": ["contacts:read"], "expires_at": "\#(expires)"}"#)
            #expect(created.status == 201, "\(created.body)")
            #expect(created["expires_at"]?.string == expires)
            let secret = created["token"]?.string ?? ""
            #expect(try await h.call(.get, "/v1/tokens/me/", token: secret).status == 200)
            h.clock.advance(seconds: 10)
            Self.expectAuthError(try await h.call(.get, "/v1/tokens/me/", token: secret), "expired")
            Self.expectAuthError(try await h.call(.get, "/v1/contacts/", token: secret), "expired, list")

            // An expiry in the past is refused at creation.
            let past = RFC3339.string(h.clock.now().addingTimeInterval(-60))
            let bad = try await h.call(.post, "/v1/tokens/", #"{"name": "old", "scopes": ["contacts:read"], "expires_at": "\#(past)"}"#)
            #expect(bad.status == 422)
            #expect(bad.errorParam == "expires_at")
        }
    }

    @Test func malformedUnknownOrMissingBearerIs401() async throws {
        try await Harness.run { h in
            var typo = h.admin
            typo.removeLast()
            typo.append(h.admin.last == "A" ? "B" : "A")  // checksum no longer matches
            let cases: [(String, HTTPFields)] = [
                ("malformed", [.authorization: "Bearer nudge_abc"]),
                ("unknown", [.authorization: "Bearer \(TokenSecret.generate())"]),
                ("typo", [.authorization: "Bearer \(typo)"]),
                ("not bearer", [.authorization: "Basic dXNlcjpwYXNz"]),
                ("empty bearer", [.authorization: "Bearer "]),
                ("raw secret", [.authorization: h.admin]),
            ]
            for (what, headers) in cases {
                Self.expectAuthError(try await h.call(.get, "/v1/tokens/me/", headers: headers), what)
                Self.expectAuthError(try await h.call(.get, "/v1/contacts/", headers: headers), "\(what), contacts")
            }
            Self.expectAuthError(try await h.callWithoutAuth(.get, "/v1/tokens/me/"), "missing")
            Self.expectAuthError(try await h.callWithoutAuth(.get, "/v1/inboxes/"), "missing, inboxes")
            // The real admin token still works, so the refusals above are about the header.
            #expect(try await h.call(.get, "/v1/tokens/me/").status == 200)
        }
    }

    @Test func tokenWithoutAdminCannotManageTokens() async throws {
        try await Harness.run { h in
            let adminID = try await h.tokenID(h.admin)
            let weak = try await h.token(["contacts:read", "contacts:write", "sequences:write", "inboxes:write"])
            let attempts: [(HTTPRequest.Method, String, String?)] = [
                (.post, "/v1/tokens/", #"{"name": "escalate", "scopes": ["admin"]}"#),
                (.get, "/v1/tokens/", nil),
                (.get, "/v1/tokens/\(adminID)/", nil),
                (.patch, "/v1/tokens/\(adminID)/", #"{"name": "renamed"}"#),
                (.delete, "/v1/tokens/\(adminID)/", nil),
            ]
            for (method, path, body) in attempts {
                let r = try await h.call(method, path, token: weak, body)
                #expect(r.status == 403, "\(method) \(path): \(r.status) \(r.body)")
                #expect(r.errorType == "permission_error")
                #expect(r.errorMessage.contains("admin"), "\(method) \(path): \(r.errorMessage)")
            }
            // Nothing changed, and the weak token still reads itself.
            let list = try await h.call(.get, "/v1/tokens/")
            #expect(list.data.count == 2)
            #expect(!list.data.contains { $0["name"]?.string == "escalate" })
            let admin = try await h.call(.get, "/v1/tokens/\(adminID)/")
            #expect(admin["name"]?.string == "admin")
            #expect(admin["revoked_at"]?.string == nil)
            #expect(try await h.call(.get, "/v1/tokens/me/", token: weak).status == 200)
        }
    }

    @Test func anotherOrganizationSees404ForThisOrgsToken() async throws {
        try await Harness.run { h in
            let created = try await h.call(.post, "/v1/tokens/", #"{"name": "mine", "scopes": ["contacts:read"]}"#)
            let secret = created["token"]?.string ?? ""
            let other = try await h.otherOrg()
            let get = try await h.call(.get, "/v1/tokens/\(created.id)/", token: other.admin)
            #expect(get.status == 404)
            #expect(get.errorType == "not_found")
            let patch = try await h.call(.patch, "/v1/tokens/\(created.id)/", token: other.admin, #"{"name": "stolen", "scopes": ["admin"]}"#)
            #expect(patch.status == 404)
            let delete = try await h.call(.delete, "/v1/tokens/\(created.id)/", token: other.admin)
            #expect(delete.status == 404)
            let theirs = try await h.call(.get, "/v1/tokens/", token: other.admin)
            #expect(!theirs.data.contains { $0["id"]?.string == created.id })
            #expect(!theirs.body.contains(h.org))

            // Untouched: still works, same name and scopes, not revoked.
            #expect(try await h.call(.get, "/v1/tokens/me/", token: secret).status == 200)
            let after = try await h.call(.get, "/v1/tokens/\(created.id)/")
            #expect(after["name"]?.string == "mine")
            #expect(after["scopes"] == .array(["contacts:read"]))
            #expect(after["revoked_at"]?.string == nil)
        }
    }

    @Test func lastAdminTokenCannotBeRevokedOrDemoted() async throws {
        try await Harness.run { h in
            let firstID = try await h.tokenID(h.admin)
            let revoke = try await h.call(.delete, "/v1/tokens/\(firstID)/")
            #expect(revoke.status == 409, "\(revoke.body)")
            #expect(revoke.errorType == "conflict")
            let demote = try await h.call(.patch, "/v1/tokens/\(firstID)/", #"{"scopes": ["contacts:read"]}"#)
            #expect(demote.status == 409, "\(demote.body)")
            let me = try await h.call(.get, "/v1/tokens/me/")
            #expect(me.status == 200)
            #expect(me["scopes"] == .array(["admin"]))

            // With a second admin, the first can go; then the second is the last one.
            let second = try await h.call(.post, "/v1/tokens/", #"{"name": "admin2", "scopes": ["admin"]}"#)
            #expect(second.status == 201)
            let secondSecret = second["token"]?.string ?? ""
            #expect(try await h.call(.delete, "/v1/tokens/\(firstID)/", token: secondSecret).status == 200)
            Self.expectAuthError(try await h.call(.get, "/v1/tokens/me/"), "revoked first admin")
            #expect(try await h.call(.delete, "/v1/tokens/\(second.id)/", token: secondSecret).status == 409)
            #expect(try await h.call(.get, "/v1/tokens/me/", token: secondSecret).status == 200)
        }
    }

    // MARK: - Idempotency

    static func inboxBody(_ address: String) -> String {
        #"{"address": "\#(address)", "display_name": "Idem", "timezone": "UTC"}"#
    }

    @Test func sameKeySameBodyReplaysAndCreatesOnce() async throws {
        try await Harness.run { h in
            let key = UUID().uuidString
            let body = Self.inboxBody("idem-\(Fixture.suffix())@acme.test")
            let first = try await h.call(.post, "/v1/inboxes/", body, headers: [Self.idempotencyKey: key])
            #expect(first.status == 201, "\(first.body)")
            #expect(first.header("Idempotent-Replayed") == nil)
            let again = try await h.call(.post, "/v1/inboxes/", body, headers: [Self.idempotencyKey: key])
            #expect(again.status == 201)
            #expect(again.body == first.body)
            #expect(again.header("Idempotent-Replayed") == "true")
            #expect(try await h.call(.get, "/v1/inboxes/").data.count == 1)

            // Same key, another body: 422 naming the header, and still one inbox.
            let other = try await h.call(
                .post, "/v1/inboxes/", Self.inboxBody("idem-\(Fixture.suffix())@acme.test"), headers: [Self.idempotencyKey: key])
            #expect(other.status == 422, "\(other.body)")
            #expect(other.errorParam == "Idempotency-Key")
            #expect(try await h.call(.get, "/v1/inboxes/").data.count == 1)

            // Keys belong to the organization: another one may use the same key.
            let org2 = try await h.otherOrg()
            let theirs = try await h.call(
                .post, "/v1/inboxes/", token: org2.admin, Self.inboxBody("idem-\(Fixture.suffix())@other.test"),
                headers: [Self.idempotencyKey: key])
            #expect(theirs.status == 201, "\(theirs.body)")
            #expect(theirs.header("Idempotent-Replayed") == nil)
            #expect(theirs.id != first.id)
        }
    }

    @Test func concurrentRequestsWithOneKeyCreateOneInbox() async throws {
        try await Harness.run { h in
            let key = UUID().uuidString
            let body = Self.inboxBody("race-\(Fixture.suffix())@acme.test")
            let replies = try await h.parallel(8) { _ in
                try await h.call(.post, "/v1/inboxes/", body, headers: [Self.idempotencyKey: key])
            }
            var ids = Set<String>()
            var fresh = 0
            for r in replies {
                #expect(r.status == 201 || r.status == 409, "\(r.status) \(r.body)")
                if r.status == 201 {
                    ids.insert(r.id)
                    if r.header("Idempotent-Replayed") == nil { fresh += 1 }
                }
                if r.status == 409 { #expect(r.errorType == "conflict") }
            }
            #expect(ids.count == 1)
            #expect(fresh == 1)
            let list = try await h.call(.get, "/v1/inboxes/")
            #expect(list.data.count == 1)
            #expect(list.data.first?["id"]?.string == ids.first)
            // Once settled, the key replays.
            let later = try await h.call(.post, "/v1/inboxes/", body, headers: [Self.idempotencyKey: key])
            #expect(later.status == 201)
            #expect(later.header("Idempotent-Replayed") == "true")
            #expect(later.id == ids.first)
        }
    }

    // MARK: - Migrations

    static func withClient<T: Sendable>(_ config: PostgresClient.Configuration, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: config, backgroundLogger: TestCluster.logger)
        let task = Task { await client.run() }
        defer { task.cancel() }
        return try await body(client)
    }

    static func migrationFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: migrationsDir).filter { $0.hasSuffix(".sql") }.sorted()
    }

    static func count(_ sql: String, database: String) async throws -> Int {
        let rows = try await TestCluster.shared.superuserQuery(sql, database: database)
        return try rows.first?.decode(Int.self) ?? -1
    }

    /// A helper program (pg_ctl start leaves the postmaster running) inherits none of this process's
    /// descriptors: a pipe open here at the time would otherwise stay open in the daemon, and its
    /// reader would wait for an end that comes only when the cluster stops.
    @Test func helperProgramsInheritNoDescriptors() throws {
        let pipe = Pipe()
        let fd = pipe.fileHandleForWriting.fileDescriptor
        #expect(throws: Shell.Failure.self) { try Shell.run(["/usr/bin/test", "-e", "/proc/self/fd/\(fd)"]) }
        #expect(try Shell.run(["/usr/bin/test", "-e", "/proc/self/fd/2"]) == "")
        try pipe.fileHandleForWriting.close()
    }

    @Test func migratingAgainIsANoOp() async throws {
        let config = try await TestCluster.shared.database()
        let applied = try await Self.withClient(config) { client in
            try await Migrator(directory: Self.migrationsDir, logger: TestCluster.logger).migrate(client)
        }
        #expect(applied == [])
        let recorded = try await Self.count("SELECT count(*) FROM schema_migrations", database: config.database!)
        #expect(recorded == (try Self.migrationFiles()).count)
    }

    @Test func concurrentMigratorsOnAnEmptyDatabaseBothSucceed() async throws {
        let name = "mig\(Int.random(in: 0..<1_000_000_000))"
        _ = try await TestCluster.shared.superuserQuery("CREATE DATABASE \(name) OWNER nudge", database: "postgres")
        let config = DatabaseLocation.configuration(embedded: try await TestCluster.shared.cluster(), database: name)
        let migrator = Migrator(directory: Self.migrationsDir, logger: TestCluster.logger)
        async let a = Self.withClient(config) { try await migrator.migrate($0) }
        async let b = Self.withClient(config) { try await migrator.migrate($0) }
        let (ra, rb) = try await (a, b)
        let files = try Self.migrationFiles()
        #expect(!files.isEmpty)
        #expect((ra + rb).sorted() == files, "a: \(ra), b: \(rb)")
        #expect(ra.isEmpty || rb.isEmpty, "both applied files: \(ra) / \(rb)")
        #expect(try await Self.count("SELECT count(*) FROM schema_migrations", database: name) == files.count)
        let again = try await Self.withClient(config) { try await migrator.migrate($0) }
        #expect(again == [])
    }

    /// On a fresh database whose login may not create or grant the roles the migrations need,
    /// nothing is applied and the error carries the SQL for an operator; after it, migrating works.
    @Test func migrateWithoutTheRolesStopsBeforeApplyingAndPrintsTheSQL() async throws {
        let suffix = Int.random(in: 0..<1_000_000_000)
        let (name, user) = ("mig\(suffix)", "operator\(suffix)")
        _ = try await TestCluster.shared.superuserQuery("CREATE ROLE \(user) LOGIN", database: "postgres")
        _ = try await TestCluster.shared.superuserQuery("CREATE DATABASE \(name) OWNER \(user)", database: "postgres")
        var config = DatabaseLocation.configuration(embedded: try await TestCluster.shared.cluster(), database: name)
        config.username = user
        let migrator = Migrator(directory: Self.migrationsDir, logger: TestCluster.logger)
        do {
            _ = try await Self.withClient(config) { try await migrator.migrate($0) }
            Issue.record("migrated without the roles")
        } catch let e as Migrator.MissingRoles {
            #expect(e.sql == "GRANT nudge_api, nudge_worker TO \"\(user)\";", "\(e.sql)")
            #expect(e.description.contains("Nothing was applied"))
            let tables = try await TestCluster.shared.superuserQuery("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database: name)
            #expect(try tables.first?.decode(Int.self) == 0)
            _ = try await TestCluster.shared.superuserQuery(e.sql, database: name)
        }
        let applied = try await Self.withClient(config) { try await migrator.migrate($0) }
        #expect(applied == (try Self.migrationFiles()))
    }

    @Test func changedMigrationIsRefusedAndNewOneApplied() async throws {
        let config = try await TestCluster.shared.database()
        let dir = NSTemporaryDirectory() + "nudge-migrations-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: Self.migrationsDir, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try Self.migrationFiles()

        // A new file is applied, alone.
        let extra = "9999_test_extra.sql"
        try "CREATE TABLE zz_test_extra (id integer PRIMARY KEY);\n".write(toFile: dir + "/" + extra, atomically: true, encoding: .utf8)
        let applied = try await Self.withClient(config) { try await Migrator(directory: dir, logger: TestCluster.logger).migrate($0) }
        #expect(applied == [extra])

        // An applied file that changed afterwards is refused.
        let first = dir + "/" + files[0]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: first))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n-- edited after it was applied\n".utf8))
        try handle.close()
        try "CREATE TABLE zz_never (id integer);\n".write(toFile: dir + "/9999_z_never.sql", atomically: true, encoding: .utf8)
        do {
            let r = try await Self.withClient(config) { try await Migrator(directory: dir, logger: TestCluster.logger).migrate($0) }
            Issue.record("a changed migration was accepted: \(r)")
        } catch let e as Migrator.ChecksumMismatch {
            #expect(e.file == files[0])
        }
        // Nothing after the refused file ran.
        #expect(try await Self.count("SELECT count(*) FROM schema_migrations", database: config.database!) == files.count + 1)
        #expect(try await Self.count("SELECT count(*) FROM pg_tables WHERE tablename = 'zz_never'", database: config.database!) == 0)
    }

    // MARK: - Row-level security

    @Test func tenantTransactionsSeeOnlyTheirOrganization() async throws {
        try await Harness.run { h in
            let other = try await h.otherOrg()
            for _ in 0..<2 { #expect(try await h.contact(Fixture.address("mine")).status == 201) }
            for _ in 0..<3 { #expect(try await h.contact(Fixture.address("theirs"), token: other.admin).status == 201) }
            let db = h.services.db
            let logger = TestCluster.logger
            @Sendable func count(_ conn: PostgresConnection, _ sql: String = "SELECT count(*) FROM contacts") async throws -> Int {
                try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int.self).collect().first ?? -1
            }
            // No org filter in the SQL: the policy does it.
            #expect(try await db.tenant(h.org) { try await count($0) } == 2)
            #expect(try await db.tenant(other.org) { try await count($0) } == 3)
            #expect(try await db.tenant(h.org) { try await count($0, "SELECT count(*) FROM contact_emails") } == 2)
            #expect(try await db.system { try await count($0) } == 5)

            // An unfiltered UPDATE touches only the caller's rows.
            try await db.tenant(h.org) { conn in
                _ = try await conn.query("UPDATE contacts SET notes = 'touched'", logger: logger).collect()
            }
            #expect(try await db.system { try await count($0, "SELECT count(*) FROM contacts WHERE notes = 'touched'") } == 2)
            #expect(try await db.system { try await count($0, "SELECT count(*) FROM contacts WHERE notes = 'touched' AND org_id = '\(h.org)'") } == 2)

            // Writing a row for another organization is refused.
            await #expect(throws: (any Error).self) {
                try await db.tenant(h.org) { conn in
                    _ = try await conn.query(
                        """
                        INSERT INTO contacts (org_id, id, created_at, updated_at) VALUES (\(other.org), \(ID.make(.ctc)), now(), now())
                        """, logger: logger
                    ).collect()
                }
            }
            #expect(try await db.tenant(other.org) { try await count($0) } == 3)
        }
    }

    // MARK: - Errors and operational routes

    @Test func errorEnvelopesAndOperationalRoutes() async throws {
        try await Harness.run { h in
            let unknown = try await h.call(.get, "/v1/no-such-route/")
            #expect(unknown.status == 404)
            #expect(unknown.errorType == "not_found")
            #expect(!unknown.errorMessage.isEmpty)
            #expect(try await h.call(.get, "/nowhere").status == 404)

            let malformed = try await h.call(.post, "/v1/inboxes/", #"{"address": "x@acme.test", "#)
            #expect(malformed.status == 400, "\(malformed.body)")
            #expect(malformed.errorType == "invalid_request")
            let notObject = try await h.call(.post, "/v1/tokens/", "[1, 2]")
            #expect(notObject.status == 400 || notObject.status == 422, "\(notObject.body)")

            let huge = String(repeating: "a", count: (1 << 20) + 1_000)
            let tooLarge = try await h.call(.post, "/v1/contacts/", #"{"emails": [{"address": "big@example.com"}], "notes": "\#(huge)"}"#)
            #expect(tooLarge.status == 413, "\(tooLarge.status) \(tooLarge.body.prefix(200))")
            #expect(tooLarge.errorType == "payload_too_large")
            #expect(try await h.call(.get, "/v1/contacts/").data.isEmpty)

            let mismatch = try await h.call(.post, "/v1/tokens/", #"{"name": 5, "scopes": ["contacts:read"]}"#)
            #expect(mismatch.status == 422, "\(mismatch.body)")
            #expect(mismatch.errorParam == "name")
            #expect(mismatch.errorType == "validation_error")
            let badScope = try await h.call(.post, "/v1/tokens/", #"{"name": "x", "scopes": ["contacts:read", "root"]}"#)
            #expect(badScope.status == 422)
            #expect(badScope.errorParam == "scopes[1]")
            for r in [unknown, malformed, tooLarge, mismatch, badScope] {
                #expect(!r.body.contains("PSQL") && !r.body.contains("SELECT "), "\(r.body.prefix(300))")
            }

            let health = try await h.callWithoutAuth(.get, "/healthz")
            #expect(health.status == 200)
            let ready = try await h.callWithoutAuth(.get, "/readyz")
            #expect(ready.status == 200, "\(ready.body)")
            let metrics = try await h.callWithoutAuth(.get, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("nudge_http_requests_total"))
            let doc = try await h.callWithoutAuth(.get, "/openapi.json")
            #expect(doc.status == 200)
            #expect(doc.json["openapi"]?.string == "3.1.0")
            #expect(doc.json["paths"] != nil)
        }
    }
}

/// Event data and message details are stored as jsonb, which refuses `\u0000`.
@Suite struct JSONValueTests {
    @Test func serializedDropsNULFromStringsAndKeys() throws {
        let text = JSONValue.object(["a\u{0}b": .string("x\u{0}y"), "list": .array([.string("\u{0}"), .number(2)]), "ok": .bool(true)]).serialized
        #expect(!text.contains("\\u0000"), "\(text)")
        let back = try #require(JSONValue.parse(text))
        #expect(back["ab"]?.string == "xy")
        #expect(back["list"] == .array([.string(""), .number(2)]))
        #expect(back["ok"]?.bool == true)
    }
}
