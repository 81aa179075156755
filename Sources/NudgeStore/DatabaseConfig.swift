import Foundation
import Logging
import NIOCore
import NIOSSL
import NudgeCore
import PostgresNIO

/// Where the database is: `NUDGE_DATABASE_URL`, or the embedded cluster under the data dir.
public enum DatabaseLocation {
    public struct InvalidURL: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "NUDGE_DATABASE_URL is not usable: \(reason)" }
    }

    /// `postgres://user:pass@host:port/db?sslmode=disable|prefer|require`: the first host of
    /// `target(url:)`.
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        let target = try target(url: url)
        return target.client(at: target.hosts.first)
    }

    /// `postgres://user:pass@host1:5432,host2:5433/db?sslmode=...&target_session_attrs=read-write`:
    /// one or more hosts of one database, as libpq and pg_auto_failover write them. Several hosts
    /// mean "the one that accepts writes" (`target_session_attrs` may say `read-write`, the
    /// default, and nothing else: Nudge writes).
    public static func target(url: String) throws -> DatabaseTarget {
        guard let schemeEnd = url.range(of: "://"), ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound].lowercased()) else {
            throw InvalidURL(reason: "expected postgres://user:pass@host:port/db")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { throw InvalidURL(reason: "no user") }
        let userInfo = authority[..<at]
        let hostList = authority[authority.index(after: at)...]
        let userPart = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let user = userPart.first.flatMap({ String($0).removingPercentEncoding }), !user.isEmpty else { throw InvalidURL(reason: "no user") }
        let password = userPart.count > 1 ? String(userPart[1]).removingPercentEncoding : nil
        let hosts = try hostList.split(separator: ",", omittingEmptySubsequences: false).map(host)
        guard !hosts.isEmpty, hosts.count <= 16 else { throw InvalidURL(reason: "give 1 to 16 hosts") }
        // Path and query as URLComponents reads them, behind a placeholder authority.
        guard let c = URLComponents(string: "postgres://x" + rest[authorityEnd...]) else {
            throw InvalidURL(reason: "the path or query is malformed")
        }
        let db = String(c.path.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        let items = c.queryItems ?? []
        let mode: DatabaseTarget.TLSMode
        switch items.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": mode = .disable
        case "require": mode = .require
        default: mode = .prefer
        }
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case .disable: tls = .disable
        case .require: tls = .require(.makeClientConfiguration())
        case .prefer: tls = .prefer(.makeClientConfiguration())
        }
        if let attrs = items.first(where: { $0.name == "target_session_attrs" })?.value, !["read-write", "primary", "any"].contains(attrs) {
            throw InvalidURL(reason: "target_session_attrs must be read-write (Nudge writes), not \(attrs)")
        }
        var config = PostgresClient.Configuration(
            host: hosts[0].name, port: hosts[0].port, username: user, password: password, database: db.isEmpty ? user : db, tls: tls)
        tune(&config)
        return DatabaseTarget(hosts: hosts, template: config, tlsMode: mode)
    }

    /// `name`, `name:port`, `[v6]` or `[v6]:port`.
    private static func host(_ s: Substring) throws -> DatabaseTarget.Host {
        var name = s
        var port = 5432
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw InvalidURL(reason: "unclosed [ in host \(s)") }
            name = s[s.index(after: s.startIndex)..<close]
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw InvalidURL(reason: "bad port in \(s)") }
                port = p
            }
        } else if let colon = s.lastIndex(of: ":") {
            name = s[..<colon]
            guard let p = Int(s[s.index(after: colon)...]) else { throw InvalidURL(reason: "bad port in \(s)") }
            port = p
        }
        guard !name.isEmpty, !name.hasPrefix("/") else { throw InvalidURL(reason: "give a host name") }
        guard (1...65535).contains(port) else { throw InvalidURL(reason: "port \(port) is out of range") }
        return DatabaseTarget.Host(name: String(name), port: port)
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
        // No JIT: Nudge's statements are short, and a plan whose estimate passes jit_above_cost
        // (an empty table's default row count is enough) spent milliseconds compiling on every
        // call what runs in microseconds (the webhook feed's poll, several times a second).
        config.options.additionalStartupParameters = [
            ("idle_in_transaction_session_timeout", "120s"), ("application_name", "nudge"), ("jit", "off"),
        ]
    }
}

extension DatabaseLocation {
    /// A pool for `configuration`; it serves once its `run()` is running (a Service).
    public static func client(_ configuration: DatabaseConfiguration, logger: Logger) -> DatabaseClient {
        DatabaseClient(configuration: configuration, backgroundLogger: logger)
    }
}

extension DatabaseClient {
    /// Runs the pool until the task is cancelled (for callers that do not import PostgresNIO).
    public func serve() async { await run() }
}

/// The pool's settings (PostgresNIO's), as `DatabaseLocation` makes them.
public typealias DatabaseConfiguration = PostgresClient.Configuration

/// One database on one or more hosts, of which at most one accepts writes at a time.
public struct DatabaseTarget: Sendable {
    public struct Host: Sendable, Equatable, CustomStringConvertible {
        public let name: String
        public let port: Int
        public var description: String { name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)" }
    }

    /// `sslmode`, kept for the single connections of a search (the pool's TLS setting cannot be read back).
    public enum TLSMode: Sendable { case disable, prefer, require }

    /// Empty for a Unix socket (the embedded cluster): `template` is then used as it is.
    public let hosts: [Host]
    /// Every setting but the host, which `client(at:)` sets.
    public let template: PostgresClient.Configuration
    public let tlsMode: TLSMode

    public init(hosts: [Host], template: PostgresClient.Configuration, tlsMode: TLSMode) {
        self.hosts = hosts
        self.template = template
        self.tlsMode = tlsMode
    }

    /// The embedded cluster, or any single configuration: nowhere to move to.
    public init(_ configuration: PostgresClient.Configuration, tlsMode: TLSMode = .prefer) {
        self.hosts = configuration.host.map { [Host(name: $0, port: configuration.port ?? 5432)] } ?? []
        self.template = configuration
        self.tlsMode = tlsMode
    }

    /// The pool's configuration for `host` (nil: the template's own endpoint).
    public func client(at host: Host?) -> PostgresClient.Configuration {
        guard let host else { return template }
        var c = PostgresClient.Configuration(
            host: host.name, port: host.port, username: template.username, password: template.password, database: template.database,
            tls: template.tls)
        c.options = template.options
        return c
    }

    /// A single connection's configuration for `host`, with a short connect timeout: a search
    /// for the primary must not wait on a host that is gone.
    package func connection(at host: Host?, connectTimeout: TimeAmount = .seconds(1)) throws -> PostgresConnection.Configuration {
        guard let host else {
            var c = PostgresConnection.Configuration(
                unixSocketPath: template.unixSocketPath ?? "", username: template.username, password: template.password, database: template.database)
            c.options.connectTimeout = connectTimeout
            return c
        }
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var c = PostgresConnection.Configuration(
            host: host.name, port: host.port, username: template.username, password: template.password, database: template.database, tls: tls)
        c.options.connectTimeout = connectTimeout
        c.options.additionalStartupParameters = [("application_name", "nudge")]
        return c
    }
}
