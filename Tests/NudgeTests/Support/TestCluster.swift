import Foundation
import Logging
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import PostgresNIO

/// One throwaway PostgreSQL cluster per test process (non-durable settings for speed), started
/// through the product's own embedded-cluster code. Each test gets a fresh database cloned from a
/// migrated template, so tests run in parallel without seeing each other's rows or clocks.
actor TestCluster {
    static let shared = TestCluster()

    private var pg: EmbeddedPostgres?
    private var admin: PostgresClient?
    private var adminTask: Task<Void, Never>?
    private var counter = 0

    static let logger: Logger = {
        var l =
            TestLogFile.handle == nil
            ? Logger(label: "nudge-test") : Logger(label: "nudge-test") { LineLogHandler(label: $0, sink: TestLogFile.write) }
        l.logLevel = ProcessInfo.processInfo.environment["NUDGE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return l
    }()

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    private var setup: Task<EmbeddedPostgres, any Error>?

    /// Started once; concurrent callers (tests run in parallel) await the same start.
    func cluster() async throws -> EmbeddedPostgres {
        if let setup { return try await setup.value }
        let task = Task { try await self.start() }
        setup = task
        return try await task.value
    }

    private func start() async throws -> EmbeddedPostgres {
        // Under ops/test's run folder when there is one, so its clean-up finds whatever is left.
        let base = ProcessInfo.processInfo.environment["NUDGE_TEST_TMP"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let dir = "\(base)/nudge-test-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        // Every suite runs at once, each test with a pool of its own: room for all of them, so
        // that no test meets "too many clients".
        let cluster = EmbeddedPostgres(dataDir: dir, durable: false, maxConnections: 1_000, logger: Self.logger)
        _ = try cluster.start()
        TestCluster.registerCleanup(dir: dir)
        // Migrate the template database ("nudge", made by the bootstrap), then never connect to it again.
        let client = PostgresClient(configuration: DatabaseLocation.configuration(embedded: cluster), backgroundLogger: Self.logger)
        let task = Task { await client.run() }
        try await Migrator(directory: Self.packageRoot.appendingPathComponent("migrations").path, logger: Self.logger).migrate(client)
        task.cancel()
        var superuser = PostgresClient.Configuration(unixSocketPath: cluster.socketPath, username: "postgres", password: nil, database: "postgres")
        superuser.options.maximumConnections = 4
        let adminClient = PostgresClient(configuration: superuser, backgroundLogger: Self.logger)
        adminTask = Task { await adminClient.run() }
        admin = adminClient
        pg = cluster
        return cluster
    }

    /// A new, migrated database for one test.
    func database() async throws -> PostgresClient.Configuration {
        let cluster = try await cluster()
        counter += 1
        let name = "t\(counter)_\(Int.random(in: 0..<1_000_000))"
        // Identifiers cannot be bound; `name` is generated here from digits only.
        try await admin!.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE nudge OWNER nudge"), logger: Self.logger)
        var config = DatabaseLocation.configuration(embedded: cluster, database: name)
        config.options.maximumConnections = 8
        config.options.minimumConnections = 0
        return config
    }

    func superuserQuery(_ sql: String, database: String) async throws -> [PostgresRow] {
        let cluster = try await cluster()
        let c = PostgresClient(
            configuration: .init(unixSocketPath: cluster.socketPath, username: "postgres", password: nil, database: database),
            backgroundLogger: Self.logger)
        let t = Task { await c.run() }
        defer { t.cancel() }
        return try await c.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).collect()
    }

    nonisolated static func registerCleanup(dir: String) {
        cleanupDir = dir
        atexit {
            if let d = TestCluster.cleanupDir {
                EmbeddedPostgres(dataDir: d, logger: Logger(label: "x")).stop()
                // ops/test greps the stopped cluster's files for secrets, then removes its run folder.
                if ProcessInfo.processInfo.environment["NUDGE_TEST_KEEP_CLUSTER"] != "1" { try? FileManager.default.removeItem(atPath: d) }
            }
        }
    }
    nonisolated(unsafe) static var cleanupDir: String?
}

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var out: [Element] = []
        for try await e in self { out.append(e) }
        return out
    }
}
