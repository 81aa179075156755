import Crypto
import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Applies `migrations/*.sql` in name order, once each, each in its own transaction, recorded
/// with a SHA-256 checksum. A session-level advisory lock serialises concurrent migrators, so
/// several processes starting together are safe. An applied file that has since changed is refused.
public struct Migrator: Sendable {
    public struct ChecksumMismatch: Error, CustomStringConvertible {
        public let file: String
        public var description: String { "migration \(file) was changed after it was applied; add a new migration instead" }
    }

    /// The migrations grant to these roles, and transactions switch to them, so they must exist
    /// and the connecting role must be a member of both before anything is applied.
    public struct MissingRoles: Error, CustomStringConvertible {
        public let user: String
        public let sql: String
        public var description: String {
            "the roles nudge_api and nudge_worker are missing or not granted to \(user), and \(user) may not create them (that takes a superuser). "
                + "Nothing was applied. As a superuser, run:\n\(sql)\nthen run nudge migrate again."
        }
    }

    package static let lockKey: Int64 = 0x6E75_6467_6501  // "nudge" + 1

    package let directory: String
    package let logger: Logger

    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    package func files() throws -> [(name: String, sql: String, checksum: String)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            let sum = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            return (name, String(decoding: data, as: UTF8.self), sum)
        }
    }

    /// Returns the names of the files applied by this call.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> [String] {
        let files = try files()
        return try await client.withConnection { conn in
            try await conn.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await run(files, on: conn)
                try await conn.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await conn.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// Creates the roles and grants them to the connecting role when it may (a superuser: only one
    /// can create a BYPASSRLS role); otherwise stops before applying anything, with the SQL.
    private func ensureRoles(on conn: PostgresConnection) async throws {
        let rows = try await conn.query(
            """
            SELECT current_user::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
              EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_api'), EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_worker'),
              EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_api') AND pg_has_role(current_user, 'nudge_api', 'MEMBER')
                AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_worker') AND pg_has_role(current_user, 'nudge_worker', 'MEMBER')
            """, logger: logger
        ).decode((String, Bool, Bool, Bool, Bool).self).collect()
        guard let (user, superuser, api, worker, member) = rows.first, !member else { return }
        var statements: [String] = []
        if !api { statements.append("CREATE ROLE nudge_api NOLOGIN;") }
        if !worker { statements.append("CREATE ROLE nudge_worker NOLOGIN BYPASSRLS;") }
        let quoted = "\"" + user.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        statements.append("GRANT nudge_api, nudge_worker TO \(quoted);")
        guard superuser else { throw MissingRoles(user: user, sql: statements.joined(separator: "\n")) }
        for statement in statements { try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        logger.info("database roles created", metadata: ["sql": "\(statements.joined(separator: " "))"])
    }

    private func run(_ files: [(name: String, sql: String, checksum: String)], on conn: PostgresConnection) async throws -> [String] {
        try await ensureRoles(on: conn)
        try await conn.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
              name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        var known: [String: String] = [:]
        for try await (name, sum) in try await conn.query("SELECT name, checksum FROM schema_migrations", logger: logger).decode(
            (String, String).self)
        {
            known[name] = sum
        }
        var applied: [String] = []
        for file in files {
            if let sum = known[file.name] {
                guard sum == file.checksum else { throw ChecksumMismatch(file: file.name) }
                continue
            }
            let statements = SQLSplitter.split(file.sql)
            try await conn.withTransaction(logger: logger) { tx in
                for statement in statements {
                    try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await tx.query("INSERT INTO schema_migrations (name, checksum) VALUES (\(file.name), \(file.checksum))", logger: logger)
            }
            logger.info("migration applied", metadata: ["file": "\(file.name)", "statements": "\(statements.count)"])
            applied.append(file.name)
        }
        return applied
    }
}
