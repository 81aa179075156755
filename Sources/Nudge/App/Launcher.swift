import Foundation
import Logging
import Metrics
import NudgeSMTP
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// What the `nudge` executable does, kept in the library so it is tested with the rest.
public enum Launcher {
    public static func environmentConfig() throws -> AppConfig {
        let env = ProcessInfo.processInfo.environment
        var c = AppConfig()
        c.dataDir = env["NUDGE_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".nudge"
        c.databaseURL = env["NUDGE_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        c.smtpURL = env["NUDGE_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let lanes = env["NUDGE_SMTP_LANES"].flatMap(Int.init), lanes > 0 { c.smtpLanes = lanes }
        if let v = env["NUDGE_DISPATCH_LOOPS"], !v.isEmpty {
            guard let n = Int(v), (1...16).contains(n) else { throw CLIError("NUDGE_DISPATCH_LOOPS must be a number from 1 to 16") }
            c.dispatchLoops = n
        }
        if let v = env["NUDGE_ALLOW_ANY_SENDER_DOMAIN"], !v.isEmpty {
            guard ["0", "1"].contains(v) else { throw CLIError("NUDGE_ALLOW_ANY_SENDER_DOMAIN must be 1 (any domain) or 0") }
            c.allowAnySenderDomain = v == "1"
        }
        c.publicURL = env["NUDGE_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let url = env["NUDGE_LLM_URL"], !url.isEmpty {
            c.llm = LLMSettings(url: url, model: env["NUDGE_LLM_MODEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "default",
                                apiKey: env["NUDGE_LLM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 })
        }
        if let v = env["NUDGE_RATE_LIMIT"] {
            let parts = v.split(separator: ",").compactMap { Double($0) }
            c.rateLimit = parts.count == 2 ? (parts[0], parts[1]) : (v == "off" ? nil : c.rateLimit)
        }
        if let v = env["NUDGE_ORG_DAILY_QUOTA"], !v.isEmpty {
            guard v == "off" || (Int(v).map { $0 >= 0 } ?? false) else { throw CLIError("NUDGE_ORG_DAILY_QUOTA must be a number of emails per day, or off") }
            c.orgDailySendQuota = v == "off" ? nil : Int(v)
        }
        c.migrationsDir = ResourceLocator.find("migrations", env: "NUDGE_MIGRATIONS_DIR")
        c.promptsDir = ResourceLocator.find("prompts", env: "NUDGE_PROMPTS_DIR")
        c.openAPIPath = ResourceLocator.find("docs/openapi.json", env: "NUDGE_OPENAPI_PATH")
        return c
    }

    static func logger(_ label: String = "nudge") -> Logger {
        var l = Logger(label: label)
        l.logLevel = ProcessInfo.processInfo.environment["NUDGE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return l
    }

    /// The secret for unsubscribe tokens and Message-IDs: `NUDGE_SECRET`, else one generated once
    /// and kept (mode 0600) in the data dir.
    static func secret(dataDir: String) throws -> [UInt8] {
        if let s = ProcessInfo.processInfo.environment["NUDGE_SECRET"], !s.isEmpty { return Array(s.utf8) }
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
    static func database(_ config: AppConfig, logger: Logger) throws -> (PostgresClient.Configuration, EmbeddedPostgres?) {
        if let url = config.databaseURL { return (try DatabaseLocation.configuration(url: url), nil) }
        let pg = EmbeddedPostgres(dataDir: config.dataDir, logger: logger)
        let started = try pg.start()
        return (DatabaseLocation.configuration(embedded: pg), started ? pg : nil)
    }

    /// Runs `body` with a migrated database (CLI commands other than serve).
    public static func withDatabase<T: Sendable>(_ config: AppConfig, _ body: @Sendable (NudgeServices, [String]) async throws -> T) async throws -> T {
        let logger = logger()
        let (dbConfig, started) = try database(config, logger: logger)
        defer { started?.stop() }
        let client = PostgresClient(configuration: dbConfig, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
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
        } catch let e as APIError {
            throw CLIError(e.message)
        }
        let t = try await services.tokens.issue(org: org, name: validName, scopes: validScopes, expiresAt: nil, createdBy: nil, now: Date())
        return json(["org_id": org, "token_id": t.id, "token": t.token, "scopes": validScopes.joined(separator: ",")])
    }

    public static func json(_ fields: [String: String]) -> String {
        JSONValue.object(fields.mapValues(JSONValue.string)).serialized
    }

    static let metricsBootstrapped = Mutex(false)
    public static func bootstrapMetrics() {
        metricsBootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: MetricsRegistry.shared))
            done = true
        }
    }

    public static func serve(_ config: AppConfig) async throws {
        var config = config
        let logger = logger()
        bootstrapMetrics()
        config.secret = try secret(dataDir: config.dataDir)
        let (dbConfig, started) = try database(config, logger: logger)
        defer { started?.stop() }
        let client = PostgresClient(configuration: dbConfig, backgroundLogger: logger)
        let clock: any NudgeClock = config.manualClock ? ManualClock() : SystemClock()
        // The health probe's own connection: a pool busy with requests is not an outage.
        var probeConfig = dbConfig
        probeConfig.options.minimumConnections = 1
        probeConfig.options.maximumConnections = 1
        let probe = PostgresClient(configuration: probeConfig, backgroundLogger: logger)
        let services = try NudgeServices(config: config, postgres: client, clock: clock, logger: logger, probe: probe)
        let app = buildApplication(services: services, background: services.backgroundServices())
        logger.info("nudge serving", metadata: ["port": "\(config.port)", "role": "\(config.role.rawValue)", "data": "\(config.dataDir)"])
        try await app.runService()
    }
}

public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
