import Foundation
import Logging
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Synchronization
import Testing

/// Token secrets are shown once and kept only as hashes: after a session that issues, uses,
/// misuses and revokes tokens, with every log line at trace level captured, no secret appears in
/// any row of any table or in any log line. (ops/test also greps the clusters' files — heap and
/// WAL — and the whole run's log for every secret any test saw.)
@Suite struct SecretsTests {
    @Test func noSecretInTheDatabaseOrTheLogs() async throws {
        let capture = LogCapture()
        let logger = Logger(label: "nudge-secrets") { LineLogHandler(label: $0, sink: capture.append) }
        let seen = Mutex<[String]>([])
        try await Harness.run(logger: logger) { h in
            seen.withLock { $0.append(h.admin) }
            // Issued through the API (shown once), used, changed, revoked, used again.
            let created = try await h.call(
                .post, "/v1/tokens/", #"{"name": "agent", "scopes": ["contacts:read", "contacts:write"]}"#,
                headers: [.init("Idempotency-Key")!: "secrets-1"])
            #expect(created.status == 201)
            let secret = created.json["token"]?.string ?? ""
            #expect(secret.hasPrefix("nudge_"))
            seen.withLock { $0.append(secret) }
            // A retry with the same Idempotency-Key gets the same token back (its answer is kept
            // sealed, not readable in the database: checked below).
            let replay = try await h.call(
                .post, "/v1/tokens/", #"{"name": "agent", "scopes": ["contacts:read", "contacts:write"]}"#,
                headers: [.init("Idempotency-Key")!: "secrets-1"])
            #expect(replay.status == 201 && replay.header("Idempotent-Replayed") == "true")
            #expect(replay.json["token"]?.string == secret)
            #expect(try await h.contact("ann@client.test", name: "Ann", token: secret).status == 201)
            #expect(try await h.call(.get, "/v1/contacts/?limit=1", token: secret).status == 200)
            // Misuse: a token where an id belongs, a scope it lacks, a mangled one, one in the query.
            #expect(try await h.call(.get, "/v1/contacts/\(secret)", token: secret).status == 404)
            #expect(try await h.call(.get, "/v1/tokens/", token: secret).status == 403)
            // Its last character changed (to one it is not: a secret ending in "x" once made this pass as itself).
            let mangled = String(secret.dropLast()) + (secret.hasSuffix("x") ? "y" : "x")
            #expect(try await h.call(.get, "/v1/contacts/", token: mangled).status == 401)
            #expect(try await h.call(.get, "/v1/contacts/?token=\(secret)").status == 200)
            let other = try await h.token(["sequences:read"])
            seen.withLock { $0.append(other) }
            let id = created.json["id"]?.string ?? ""
            #expect(try await h.call(.delete, "/v1/tokens/\(id)").status == 200)
            #expect(try await h.call(.get, "/v1/contacts/", token: secret).status == 401)
            #expect(try await h.call(.get, "/v1/sequences/", token: other).status == 200)
            try await h.services.authenticator.flushUsage()

            let dbName = try await h.services.db.client.query("SELECT current_database()", logger: logger).collect().first!.decode(String.self)
            let dump = try await TestCluster.shared.superuserQuery(
                """
                SELECT string_agg(table_name || ': ' || coalesce(query_to_xml(format('SELECT * FROM %I', table_name), true, false, '')::text, ''), E'\\n')
                FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                """, database: dbName
            ).first!.decode(String.self)
            #expect(dump.contains("ann@client.test"), "the dump must cover the tables the session wrote")
            for s in seen.withLock({ $0 }) {
                #expect(!dump.contains(s), "a token secret is stored in the database")
                #expect(!dump.contains(String(s.dropFirst(6).prefix(20))), "part of a token secret is stored in the database")
            }
        }
        let lines = capture.lines
        #expect(lines.count > 20, "the capture must have seen the session's logs")
        for s in seen.withLock({ $0 }) {
            #expect(!lines.contains { $0.contains(s) || $0.contains(String(s.dropFirst(6).prefix(20))) }, "a token secret is in the logs")
        }
    }
}

/// Every log line of one test, in memory.
final class LogCapture: Sendable {
    private let store = Mutex<[String]>([])
    var lines: [String] { store.withLock { $0 } }
    func append(_ line: String) { store.withLock { $0.append(line) } }
}
