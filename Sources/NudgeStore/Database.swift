import Logging
import NIOCore
import NudgeCore
import PostgresNIO
import ServiceLifecycle
import _ConnectionPoolModule

/// The one store. Every transaction picks its database role first: `nudge_api` with the caller's
/// organization (row-level security filters every table by it), or `nudge_worker` for background
/// work that spans organizations. Errors thrown inside a transaction roll it back and come out
/// unchanged, so handlers can throw API errors from within.
public struct Database: Sendable {
    private enum Source: Sendable {
        case fixed(PostgresClient)
        case pool(DatabasePool)
    }

    private let source: Source
    public let logger: Logger

    /// One pool on one server, run by its owner.
    public init(client: PostgresClient, logger: Logger) {
        self.source = .fixed(client)
        self.logger = logger
    }

    /// A pool that follows the writable host of `pool.target` (see `DatabasePool`).
    public init(pool: DatabasePool, logger: Logger) {
        self.source = .pool(pool)
        self.logger = logger
    }

    /// The pool a transaction starting now uses.
    public var client: PostgresClient {
        switch source {
        case .fixed(let c): return c
        case .pool(let p): return p.client
        }
    }

    /// The pool once it is known to serve the writable host (at start, a multi-host pool first
    /// finds it).
    public func writableClient() async throws -> PostgresClient {
        if let pool { try await pool.settled() }
        return client
    }

    package var pool: DatabasePool? {
        if case .pool(let p) = source { return p }
        return nil
    }

    /// The service that keeps the connections: the fixed pool, or the moving one.
    public var service: any Service {
        switch source {
        case .fixed(let c): return c
        case .pool(let p): return p
        }
    }

    /// A transaction that sees only `orgID`'s rows. With `rollback` nothing it did is kept (dry runs).
    public func tenant<R: Sendable>(_ orgID: String, rollback: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> R)
        async throws -> R
    {
        try await transaction(body, rollback: rollback) { [logger] conn in
            try await conn.query("SELECT set_config('role', 'nudge_api', true), set_config('nudge.org_id', \(orgID), true)", logger: logger)
        }
    }

    /// The same, run again (at most `retries` more times) when it fails on a unique index that a
    /// concurrent transaction filled first: the rerun sees that transaction's rows (two requests
    /// creating one new address, or receiving one message, at once).
    public func tenant<R: Sendable>(_ orgID: String, racesRetried retries: Int, _ body: @escaping @Sendable (PostgresConnection) async throws -> R)
        async throws -> R
    {
        var attempt = 0
        while true {
            do {
                return try await tenant(orgID, body)
            } catch DatabaseFailure.uniqueViolation where attempt < retries {
                attempt += 1
            }
        }
    }

    /// A transaction for workers and operators, across organizations.
    public func system<R: Sendable>(rollback: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        try await transaction(body, rollback: rollback) { [logger] conn in
            try await conn.query("SELECT set_config('role', 'nudge_worker', true)", logger: logger)
        }
    }

    /// One statement in autocommit, as the login role: for functions that pick their own role
    /// (`mark_accepted`), where BEGIN, a role switch and COMMIT would triple the round trips.
    /// One trivial statement, for readiness: the pool can reach the server.
    package func ping() async throws {
        _ = try await client.query("SELECT 1", logger: logger).collect()
    }

    package func autocommit(_ query: PostgresQuery) async throws {
        try await outsideTransaction { [logger] conn in _ = try await conn.query(query, logger: logger) }
    }

    /// A new transaction id, of a transaction ended at once (`FeedHorizon.stepIn`).
    package func freshTransactionID() async throws -> String {
        try await outsideTransaction { [logger] conn in
            try await conn.query("SELECT pg_current_xact_id()::text", logger: logger).decode(String.self).collect().first ?? ""
        }
    }

    /// Statements in autocommit, as the login role, on a pooled connection.
    private func outsideTransaction<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        try await classified {
            try await client.withConnection { conn in try await conn.untilClosed { try await body(conn) } }
        }
    }

    private func transaction<R: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> R,
        rollback: Bool = false,
        setup: @escaping @Sendable (PostgresConnection) async throws -> Void
    ) async throws -> R {
        try await classified {
            try await client.withConnection { conn in
                // A statement the body sends after the session ended would wait forever: the
                // transaction fails when the connection closes instead (`untilClosed`).
                try await conn.untilClosed { [logger] in
                    try await conn.query("BEGIN", logger: logger)
                    do {
                        try await setup(conn)
                        let result = try await body(conn)
                        try conn.ensureOpen()
                        try await conn.query(rollback ? "ROLLBACK" : "COMMIT", logger: logger)
                        return result
                    } catch {
                        // A closed connection has rolled back already; a ROLLBACK sent to it would only be left waiting.
                        if !conn.isClosed { _ = try? await conn.query("ROLLBACK", logger: logger) }
                        throw error
                    }
                }
            }
        }
    }

    /// The driver's and the pool's errors as `DatabaseFailure`s; others (API errors thrown by a
    /// transaction's body) come out unchanged.
    private func classified<R: Sendable>(_ work: () async throws -> R) async throws -> R {
        do {
            return try await work()
        } catch let error as PSQLError {
            let failure = DatabaseFailure.classify(error)
            // A lost server or a standby (after a failover) sends a multi-host pool looking for the primary.
            if case DatabaseFailure.unavailable(let why)? = failure as? DatabaseFailure { pool?.suspect(why) }
            throw failure
        } catch let error as ConnectionPoolError where error == .connectionCreationCircuitBreakerTripped {
            // The pool gave up waiting for a connection it could not create (PostgresNIO does not
            // map this one to a PSQLError): the database is out of reach, a 503.
            pool?.suspect("no connection could be made")
            throw DatabaseFailure.unavailable("no connection could be made")
        } catch let failure as DatabaseFailure {
            if case .unavailable(let why) = failure { pool?.suspect(why) }
            throw failure
        }
    }
}

/// What callers need to know about a database failure: a constraint the request broke (a 409
/// for the API), or the database being out of reach (a 503 with Retry-After).
public enum DatabaseFailure: Error, CustomStringConvertible {
    case uniqueViolation(constraint: String?)
    case foreignKeyViolation(constraint: String?)
    case unavailable(String)
    case other(PSQLError)

    package static func classify(_ error: PSQLError) -> Error {
        if let state = error.serverInfo?[.sqlState] {
            switch state {
            case "23505": return DatabaseFailure.uniqueViolation(constraint: error.serverInfo?[.constraintName])
            case "23503": return DatabaseFailure.foreignKeyViolation(constraint: error.serverInfo?[.constraintName])
            case "57P01", "57P02", "57P03", "53300", "08006", "08001", "08004": return DatabaseFailure.unavailable(state)
            // "cannot execute ... in a read-only transaction": this host became a standby.
            case "25006": return DatabaseFailure.unavailable("read-only: the server is a standby")
            default: return DatabaseFailure.other(error)
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .connectionClosed:
            return DatabaseFailure.unavailable("\(error.code)")
        default:
            return DatabaseFailure.other(error)
        }
    }

    public var description: String {
        switch self {
        case .uniqueViolation(let c): return "unique violation \(c ?? "")"
        case .foreignKeyViolation(let c): return "foreign key violation \(c ?? "")"
        case .unavailable(let s): return "database unavailable (\(s))"
        case .other(let e): return "database error: \(String(reflecting: e))"
        }
    }
}

extension PostgresConnection {
    /// PostgresNIO (1.33) drops a statement written to a connection that has closed (the server
    /// ended the session, the network went), and its caller then waits forever. `untilClosed`
    /// frees the caller; checking first also spares the task it leaves behind (COMMIT, and the
    /// dispatcher's batch after it held the connection idle while sending).
    package func ensureOpen() throws {
        if isClosed { throw DatabaseFailure.unavailable("the connection closed") }
    }

    /// EXPLAIN (ANALYZE, BUFFERS) of a statement with its own bindings, as text (`nudge explain
    /// claim`, plan tests). ANALYZE runs the statement: call it in a transaction rolled back.
    package func explainAnalyze(_ query: PostgresQuery, logger: Logger) async throws -> String {
        try await self.query(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, BUFFERS) " + query.sql, binds: query.binds), logger: logger)
            .decode(String.self).collect().joined(separator: "\n")
    }

    package func explainAnalyze<S: PostgresPreparedStatement>(_ statement: S, logger: Logger) async throws -> String {
        try await explainAnalyze(PostgresQuery(unsafeSQL: S.sql, binds: try statement.makeBindings()), logger: logger)
    }
}

/// The connection of an open transaction, as the layers above the store hold it: to hand back
/// to store functions. Only the store target imports PostgresNIO, so only it can run a
/// statement on it.
package typealias StoreConnection = PostgresConnection

/// The pool the composition root builds and runs (PostgresNIO's client).
public typealias DatabaseClient = PostgresClient

extension DatabaseFailure {
    /// What a person should read when a command ends with a database error: the server's
    /// message and hint, or that the database cannot be reached. nil for other errors.
    public static func describe(_ error: any Error) -> String? {
        switch error {
        case let e as PSQLError:
            if let message = e.serverInfo?[.message] {
                var line = "the database refused a statement: \(message) (SQLSTATE \(e.serverInfo?[.sqlState] ?? "?"))"
                if let hint = e.serverInfo?[.hint] { line += "\nhint: \(hint)" }
                return line
            }
            return "cannot reach the database (NUDGE_DATABASE_URL, or the embedded cluster in NUDGE_DATA_DIR): \(e.code)"
        case is ConnectionPoolError:
            return
                "cannot reach the database (NUDGE_DATABASE_URL, or the embedded cluster in NUDGE_DATA_DIR): no connection could be made; check the host, port and credentials"
        default:
            return nil
        }
    }
}
