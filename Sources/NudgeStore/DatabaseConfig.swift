import Foundation
import Logging
import NudgeCore
import PostgresNIO

/// Where the database is: `NUDGE_DATABASE_URL`, or the embedded cluster under the data dir.
public enum DatabaseLocation {
    public struct InvalidURL: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "NUDGE_DATABASE_URL is not usable: \(reason)" }
    }

    /// `postgres://user:pass@host:port/db?sslmode=disable|prefer|require`
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let c = URLComponents(string: url), ["postgres", "postgresql"].contains(c.scheme ?? "") else {
            throw InvalidURL(reason: "expected postgres://user:pass@host:port/db")
        }
        guard let user = c.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else { throw InvalidURL(reason: "no user") }
        let db = String(c.path.drop(while: { $0 == "/" }))
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        if let host = c.host, host.hasPrefix("/") || host.isEmpty {
            throw InvalidURL(reason: "give a host name")
        }
        var config = PostgresClient.Configuration(
            host: c.host ?? "127.0.0.1", port: c.port ?? 5432, username: user,
            password: c.percentEncodedPassword?.removingPercentEncoding, database: db.isEmpty ? user : db, tls: tls)
        tune(&config)
        return config
    }

    public static func configuration(embedded pg: EmbeddedPostgres, database: String = "nudge") -> PostgresClient.Configuration {
        var config = PostgresClient.Configuration(unixSocketPath: pg.socketPath, username: "nudge", password: nil, database: database)
        tune(&config)
        return config
    }

    package static func tune(_ config: inout PostgresClient.Configuration) {
        config.options.maximumConnections = 20
        config.options.minimumConnections = 2
        config.options.connectTimeout = .seconds(5)
        config.options.keepAliveBehavior = .init(frequency: .seconds(15))
        // A transaction left open by a dead worker is ended by the server, releasing its row locks.
        config.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "120s"), ("application_name", "nudge")]
    }
}

extension DatabaseLocation {
    /// A pool for `configuration`; it serves once its `run()` is running (a Service).
    public static func client(_ configuration: DatabaseConfiguration, logger: Logger) -> DatabaseClient {
        DatabaseClient(configuration: configuration, backgroundLogger: logger)
    }

    /// The health probe's own one-connection pool: a pool busy with requests is not an outage.
    public static func probe(_ configuration: DatabaseConfiguration, logger: Logger) -> DatabaseClient {
        var c = configuration
        c.options.minimumConnections = 1
        c.options.maximumConnections = 1
        return DatabaseClient(configuration: c, backgroundLogger: logger)
    }
}

extension DatabaseClient {
    /// Runs the pool until the task is cancelled (for callers that do not import PostgresNIO).
    public func serve() async { await run() }
}

/// The pool's settings (PostgresNIO's), as `DatabaseLocation` makes them.
public typealias DatabaseConfiguration = PostgresClient.Configuration
