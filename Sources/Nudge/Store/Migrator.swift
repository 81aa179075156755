import Crypto
import Foundation
import Logging
import PostgresNIO

/// Applies `migrations/*.sql` in name order, once each, each in its own transaction, recorded
/// with a SHA-256 checksum. A session-level advisory lock serialises concurrent migrators, so
/// several processes starting together are safe. An applied file that has since changed is refused.
public struct Migrator: Sendable {
    public struct ChecksumMismatch: Error, CustomStringConvertible {
        public let file: String
        public var description: String { "migration \(file) was changed after it was applied; add a new migration instead" }
    }

    static let lockKey: Int64 = 0x6E75_6467_6501  // "nudge" + 1

    let directory: String
    let logger: Logger

    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    func files() throws -> [(name: String, sql: String, checksum: String)] {
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

    private func run(_ files: [(name: String, sql: String, checksum: String)], on conn: PostgresConnection) async throws -> [String] {
        try await conn.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
              name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        var known: [String: String] = [:]
        for try await (name, sum) in try await conn.query("SELECT name, checksum FROM schema_migrations", logger: logger).decode((String, String).self) {
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
