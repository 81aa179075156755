import Foundation
import Hummingbird
import Logging
import Metrics
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeWorkers
import Prometheus
import ServiceLifecycle
import Synchronization

/// What the `nudge` executable does, kept in the library so it is tested with the rest.
public enum Launcher {
    /// The configuration of `NUDGE_*` variables (see `EnvironmentConfig`).
    public static func environmentConfig() throws -> AppConfig {
        try EnvironmentConfig().config()
    }

    package static func logger(_ config: AppConfig, _ label: String = "nudge") -> Logger {
        var l = Logger(label: label)
        l.logLevel = config.logLevel
        for name in EnvironmentConfig().unknown {
            l.warning("unknown setting ignored: \(name) is not a variable nudge reads (a typo?)")
        }
        return l
    }

    /// The secret for unsubscribe tokens and Message-IDs: `NUDGE_SECRET` (already in `config`),
    /// else one generated once and kept (mode 0600) in the data dir.
    package static func secret(_ config: AppConfig) throws -> [UInt8] {
        if !config.secret.isEmpty { return config.secret }
        let dataDir = config.dataDir
        let path = dataDir + "/secret"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing.count >= 32 {
            return Array(existing.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let fresh = Base62.random(count: 48)
        FileManager.default.createFile(atPath: path, contents: Data(fresh.utf8), attributes: [.posixPermissions: 0o600])
        return Array((try String(contentsOfFile: path, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }

    /// Database configuration, starting the embedded cluster when no URL is set. Returns the
    /// cluster to stop on exit when this process started it.
    package static func database(_ config: AppConfig, logger: Logger) throws -> (DatabaseTarget, EmbeddedPostgres?) {
        if let url = config.databaseURL { return (try DatabaseLocation.target(url: url), nil) }
        let pg = EmbeddedPostgres(dataDir: config.dataDir, logger: logger)
        let started = try pg.start()
        return (DatabaseTarget(DatabaseLocation.configuration(embedded: pg)), started ? pg : nil)
    }

    /// Runs `body` with a migrated database (CLI commands other than serve).
    public static func withDatabase<T: Sendable>(_ config: AppConfig, _ body: @Sendable (NudgeServices, [String]) async throws -> T) async throws -> T
    {
        let logger = logger(config)
        let (target, started) = try database(config, logger: logger)
        defer { started?.stop() }
        // A command runs against the host that accepts writes now.
        var host = target.hosts.first
        if target.hosts.count > 1 {
            guard let writable = await DatabasePool.findWritable(target, logger: logger) else {
                throw CLIError("no host of NUDGE_DATABASE_URL accepts writes (\(target.hosts.map(\.description).joined(separator: ", ")))")
            }
            host = writable
        }
        let client = DatabaseLocation.client(target.client(at: host), logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.serve() }
            defer { group.cancelAll() }
            let applied = try await Migrator(directory: config.migrationsDir, logger: logger).migrate(client)
            let services = try NudgeServices(config: config, postgres: client, clock: SystemClock(), logger: logger)
            return try await body(services, applied)
        }
    }

    public static func createToken(_ services: NudgeServices, org: String, name: String, scopes: [String]) async throws -> String {
        guard ID.isValid(org, .org), try await services.tokens.orgExists(org) else {
            throw CLIError("no organization \(org)")
        }
        let validName: String
        let validScopes: [String]
        do {
            validName = try Validate.name(name, "name")
            validScopes = try Validate.scopes(scopes)
        } catch let e as NudgeError {
            throw CLIError(e.message)
        }
        let t = try await services.tokens.issue(org: org, name: validName, scopes: validScopes, expiresAt: nil, createdBy: nil, now: Date())
        return json(["org_id": org, "token_id": t.id, "token": t.token, "scopes": validScopes.joined(separator: ",")])
    }

    public static func json(_ fields: [String: String]) -> String {
        JSONValue.object(fields.mapValues(JSONValue.string)).serialized
    }

    package static let metricsBootstrapped = Mutex(false)
    public static func bootstrapMetrics() {
        metricsBootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: MetricsRegistry.shared))
            done = true
        }
    }

    public static func serve(_ config: AppConfig) async throws {
        var config = config
        let logger = logger(config)
        bootstrapMetrics()
        config.secret = try secret(config)
        let (target, started) = try database(config, logger: logger)
        defer { started?.stop() }
        let clock: any NudgeClock = config.manualClock ? ManualClock() : SystemClock()
        let services = try NudgeServices(config: config, pool: DatabasePool(target: target, logger: logger), clock: clock, logger: logger)
        let app = try buildApplication(services: services, background: services.backgroundServices())
        logger.info("nudge serving", metadata: ["port": "\(config.port)", "role": "\(config.role.rawValue)", "data": "\(config.dataDir)"])
        try await app.runService()
    }
}

extension Launcher {
    /// One or two lines a person can act on, for any error a command can end with: what failed
    /// and, where known, what to do. `verbose` adds the error as the program sees it.
    public static func describe(_ error: any Error, verbose: Bool = false) -> String {
        var line: String
        switch error {
        case _ where DatabaseFailure.describe(error) != nil:
            line = DatabaseFailure.describe(error)!
        case let e as DatabaseFailure:
            switch e {
            case .other(let p): return describe(p, verbose: verbose)
            default: line = "the database is unavailable: \(e)"
            }
        case let e as CustomStringConvertible:
            line = e.description
        default:
            line = "\(type(of: error))"
        }
        return verbose ? line + "\ndetail: \(String(reflecting: error))" : line
    }
}

public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
