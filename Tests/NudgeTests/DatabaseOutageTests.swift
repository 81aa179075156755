import Foundation
import HTTPTypes
import Logging
import NIOCore
import NudgeTestSupport
import PostgresNIO
import Synchronization
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// PostgreSQL going away under a running server: the API answers 503 with the error envelope
/// quickly (no hang), `/mcp` a JSON-RPC error with the wait, /readyz fails, and all recover by
/// themselves when it is back.
@Suite struct DatabaseOutageTests {
    @Test func apiAnswers503WhileTheDatabaseIsDownAndRecoversWithoutRestart() async throws {
        let dir = (ProcessInfo.processInfo.environment["NUDGE_TEST_TMP"] ?? "/tmp") + "/nudge-test-outage-\(UUID().uuidString.prefix(8))"
        let logger = TestCluster.logger
        let pg = EmbeddedPostgres(dataDir: dir, durable: false, logger: logger)
        _ = try await offThePool { try pg.start() }
        defer {
            pg.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        var config = AppConfig()
        config.dataDir = dir
        config.migrationsDir = TestCluster.packageRoot.appendingPathComponent("migrations").path
        config.openAPIPath = TestCluster.packageRoot.appendingPathComponent("docs/openapi.json").path
        config.secret = Array("outage-secret-0123456789-abcdefghijklm".utf8)
        config.rateLimit = nil
        let postgres = PostgresClient(configuration: DatabaseLocation.configuration(embedded: pg), backgroundLogger: logger)
        var probeConfig = DatabaseLocation.configuration(embedded: pg)
        probeConfig.options.minimumConnections = 1
        probeConfig.options.maximumConnections = 1
        let probe = PostgresClient(configuration: probeConfig, backgroundLogger: logger)
        let services = try NudgeServices(config: config, postgres: postgres, clock: ManualClock(), logger: logger, probe: probe)
        let app = try buildApplication(services: services)
        try await app.test(.router) { client in
            let (_, token) = try await services.tokens.createOrg(name: "Outage", now: Date())
            SecretLedger.record(token.token)
            func get(_ path: String) async throws -> (Int, String, Duration) {
                let started = ContinuousClock.now
                return try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token.token)"]) { r in
                    (Int(r.status.code), String(buffer: r.body), ContinuousClock.now - started)
                }
            }
            // A JSON-RPC message to `/mcp`: status, headers, body and how long the answer took.
            func mcp(_ message: String, session: String? = nil) async throws -> (Int, HTTPFields, JSONValue?, Duration) {
                let started = ContinuousClock.now
                var headers: HTTPFields = [.authorization: "Bearer \(token.token)", .contentType: "application/json"]
                if let session { headers[HTTPField.Name("Mcp-Session-Id")!] = session }
                return try await client.execute(uri: "/mcp", method: .post, headers: headers, body: ByteBuffer(string: message)) { r in
                    (Int(r.status.code), r.headers, JSONValue.parse(String(buffer: r.body)), ContinuousClock.now - started)
                }
            }
            #expect(try await get("/v1/contacts/").0 == 200)
            #expect(try await get("/readyz").0 == 200)
            let (_, opened, _, _) = try await mcp(
                #"{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}"#
            )
            let session = try #require(opened[HTTPField.Name("Mcp-Session-Id")!])
            let call = #"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_contacts", "arguments": {}}}"#
            #expect(try await mcp(call, session: session).0 == 200)

            pg.stop()
            let (status, body, took) = try await get("/v1/contacts/")
            #expect(status == 503, "\(body)")
            #expect(body.contains(#""type":"service_unavailable""#))
            // Generous bounds: the suite shares the machine with every other suite running in
            // parallel; ops/chaos outage measures the times (docs/reliability.md).
            #expect(took < .seconds(30), "answered in \(took), not a hang")
            #expect(try await get("/readyz").0 == 503)
            // Once the outage is known, requests fail at once.
            let again = try await get("/v1/contacts/")
            #expect(again.0 == 503)
            #expect(again.2 < .seconds(5), "answered in \(again.2)")
            // A tool call behind the closed gate: a JSON-RPC error that says to wait, at once.
            let (mcpStatus, headers, answer, mcpTook) = try await mcp(call, session: session)
            #expect(mcpStatus == 503, "\(String(describing: answer))")
            #expect(headers[.retryAfter] == "2")
            #expect(answer?["error"]?["code"]?.number == -32000)
            #expect(answer?["error"]?["message"]?.string?.contains("Wait 2 s, then call again") == true, "\(String(describing: answer))")
            #expect(answer?["error"]?["data"]?["type"]?.string == "service_unavailable")
            #expect(mcpTook < .seconds(5), "answered in \(mcpTook)")

            _ = try await offThePool { try pg.start() }
            var recovered = false
            for _ in 0..<80 where !recovered {
                recovered = try await get("/v1/contacts/").0 == 200
                if !recovered { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(recovered, "the API serves again within 20 s of the database's return")
            #expect(try await mcp(call, session: session).0 == 200)
            #expect(try await get("/readyz").0 == 200)
        }
    }
}

/// A session the server ends while a transaction holds it idle (a restart, the idle-in-transaction
/// timeout, an operator's pg_terminate_backend). PostgresNIO drops a statement written to a closed
/// connection and its caller waits forever, so neither COMMIT nor ROLLBACK may be sent to it, and a
/// statement of the body that is sent to it anyway is abandoned when the connection closes: the
/// transaction fails as `unavailable`, and the pool serves on.
@Suite struct EndedSessionTests {
    @Test(.timeLimit(.minutes(5))) func aTransactionWhoseSessionWasEndedFailsInsteadOfHanging() async throws {
        try await Harness.run { h in
            let db = h.services.db
            let logger = db.logger
            @Sendable func endSession(of conn: PostgresConnection) async throws {
                let pid = try await conn.query("SELECT pg_backend_pid()", logger: logger).decode(Int32.self).collect()[0]
                // As the login role, which owns the session. The pool may hand out a connection an
                // earlier step ended: autocommit fails on it as unavailable (a plain query would
                // wait forever), and it is tried again.
                for attempt in 1...5 {
                    do {
                        try await db.autocommit("SELECT pg_terminate_backend(\(pid))")
                        break
                    } catch DatabaseFailure.unavailable(_) where attempt < 5 {}
                }
                for _ in 0..<250 where !conn.isClosed { try await Task.sleep(for: .milliseconds(20)) }
                #expect(conn.isClosed)
            }
            struct BodyFailed: Error {}
            // The body returns: no COMMIT to a closed connection.
            await #expect(throws: DatabaseFailure.self) { try await db.system { conn in try await endSession(of: conn) } }
            // The body throws once the session has ended: no ROLLBACK to a closed connection. Its
            // error comes out, or the connection's if the close was told first.
            let thrown = await #expect(throws: (any Error).self) {
                try await db.system { conn in
                    try await endSession(of: conn)
                    throw BodyFailed()
                }
            }
            #expect(thrown is BodyFailed || thrown is DatabaseFailure, "\(String(describing: thrown))")
            // The body writes another statement to the closed connection: that statement is never
            // answered, and the transaction fails as the connection closes instead of waiting for it.
            final class Seen: Sendable { let conn = Mutex<PostgresConnection?>(nil) }
            let seen = Seen()
            // Under load the pool may still hand out a connection an earlier step ended: BEGIN
            // fails then, before the body runs, and the transaction is tried again.
            for _ in 0..<5 where seen.conn.withLock({ $0 }) == nil {
                await #expect(throws: DatabaseFailure.self) {
                    try await db.system { conn in
                        seen.conn.withLock { $0 = conn }
                        try await endSession(of: conn)
                        _ = try await conn.query("SELECT 2", logger: logger).collect()
                    }
                }
            }
            // The closed connection is forgotten; an open one keeps its entry, without waiters.
            #expect(ClosedConnections.shared.waiters(on: try #require(seen.conn.withLock { $0 })) == nil)
            await #expect(throws: DatabaseFailure.self) {
                try await db.tenant(h.org) { conn in
                    try await endSession(of: conn)
                    _ = try await conn.query("SELECT 3", logger: logger).collect()
                }
            }
            let one = try await db.system { conn in try await conn.query("SELECT 1", logger: logger).decode(Int.self).collect() }
            #expect(one == [1])
            // A transaction that ends leaves no waiter behind: after 20 on the pool's few
            // connections, each has at most the one of a transaction running now (the harness's
            // background loops share the pool).
            var used: [PostgresConnection] = []
            for _ in 0..<20 { used.append(try await db.system { conn in conn }) }
            for conn in used { #expect((ClosedConnections.shared.waiters(on: conn) ?? 0) <= 1) }
        }
    }
}

/// The timeout used by the health probe and /readyz gives up at its deadline even when the work
/// ignores cancellation (a task group would wait for it: a probe once hung 71 s that way). The
/// checks ask whether the work had finished when the wait ended, not how long it took: wall-clock
/// bounds do not hold while the rest of the suite starts its clusters.
@Suite struct TimeoutTests {
    final class Work: Sendable {
        private let finished = Atomic<Bool>(false)
        var done: Bool { finished.load(ordering: .relaxed) }
        /// Finishes after `seconds` whatever happens to the task that waits for it.
        func ignoringCancellation(_ seconds: Double) async -> Int {
            await withCheckedContinuation { c in
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                    self.finished.store(true, ordering: .relaxed)
                    c.resume(returning: 1)
                }
            }
        }
    }

    @Test func timeoutReturnsAtItsDeadlineEvenIfTheWorkIgnoresCancellation() async throws {
        let work = Work()
        await #expect(throws: TimeoutError.self) {
            try await withTimeout(.milliseconds(100)) { await work.ignoringCancellation(30) }
        }
        #expect(!work.done, "the timeout waited for the work")
    }

    @Test func timeoutPassesResultsAndErrorsThrough() async throws {
        #expect(try await withTimeout(.seconds(30)) { await Work().ignoringCancellation(0.01) } == 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await withTimeout(.seconds(30)) { () async throws -> Int in throw Boom() } }
    }

    @Test func cancellingTheCallerEndsTheWait() async throws {
        let work = Work()
        let task = Task { try await withTimeout(.seconds(60)) { await work.ignoringCancellation(30) } }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(!work.done, "the cancelled wait waited for the work")
    }
}

/// A worker's transaction while PostgreSQL cannot be reached at all (no health gate in front):
/// the pool keeps trying to connect, then gives up on waiting requests with its circuit breaker
/// (after 60 s in PostgresNIO, not configurable). That error must come out as `unavailable`, what
/// the API turns into a 503 and the workers retry, not as an unknown error.
@Suite struct PoolCircuitBreakerTests {
    @Test(.timeLimit(.minutes(5))) func aPoolThatCannotConnectFailsAsUnavailable() async throws {
        let logger = TestCluster.logger
        // A port held bound but not listening: connections are refused, and no server started by
        // a test running meanwhile can take it (a port that was merely free once could be).
        let held = try HeldPort()
        defer { held.release() }
        var config = try DatabaseLocation.configuration(url: "postgres://nudge@127.0.0.1:\(held.port)/nudge?sslmode=disable")
        config.options.connectTimeout = .seconds(1)
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            let db = Database(client: client, logger: logger)
            let thrown = await #expect(throws: DatabaseFailure.self) {
                try await db.system { conn in try await conn.query("SELECT 1", logger: logger) }
            }
            if case .unavailable = thrown {} else { Issue.record("expected unavailable, got \(String(describing: thrown))") }
            group.cancelAll()
        }
    }
}

/// A loopback TCP port bound and never listened on, until `release`.
struct HeldPort {
    let fd: Int32
    let port: Int

    init() throws {
        guard let (fd, port) = EmbeddedPostgres.boundLoopbackSocket() else { throw CancellationError() }
        self.fd = fd
        self.port = port
    }

    func release() { close(fd) }
}
