import Foundation
import Logging
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeWorkers

/// A `NUDGE_*` variable whose value cannot be used: start-up stops and says which one and what it
/// takes, rather than running with a default the operator did not choose.
public struct ConfigError: Error, CustomStringConvertible {
    public let variable: String
    public let expected: String
    public var description: String { "\(variable) must be \(expected)" }
}

/// Every `NUDGE_*` variable, read in one place. Unset or empty means the default.
public struct EnvironmentConfig: Sendable {
    /// The variables `nudge` reads; any other `NUDGE_*` (a typo, a retired name) is reported.
    public static let known: Set<String> = [
        "NUDGE_DATA_DIR", "NUDGE_DATABASE_URL", "NUDGE_SMTP_URL", "NUDGE_SMTP_LANES", "NUDGE_DISPATCH_LOOPS", "NUDGE_PUBLIC_URL",
        "NUDGE_ACCOUNT_DISPATCH_LOOPS",
        "NUDGE_LLM_URL", "NUDGE_LLM_MODEL", "NUDGE_LLM_API_KEY", "NUDGE_RATE_LIMIT", "NUDGE_ORG_DAILY_QUOTA",
        "NUDGE_ALLOW_ANY_SENDER_DOMAIN", "NUDGE_SECRET", "NUDGE_LOG_LEVEL", "NUDGE_MIGRATIONS_DIR", "NUDGE_PROMPTS_DIR", "NUDGE_OPENAPI_PATH",
        "NUDGE_WEBHOOK_ALLOW_PRIVATE", "NUDGE_WEBHOOK_CONCURRENCY", "NUDGE_CONSOLE_DIR", "NUDGE_ALLOW_PRIVATE_MAIL_HOSTS",
        "NUDGE_MAIL_CA_FILE", "NUDGE_ACCOUNT_LANES", "NUDGE_MAIL_HOST_CAP", "NUDGE_OLD_SECRET", "NUDGE_DNS_SERVER",
        "NUDGE_IMAP_CHUNK", "NUDGE_IMAP_CONCURRENCY", "NUDGE_IMAP_KEPT",
    ]

    /// Read by the scripts in ops/ and by tests, not by `nudge`: not reported.
    package static let tooling: Set<String> = ["NUDGE_ROOT", "NUDGE_BIN", "NUDGE_BINARY", "NUDGE_BUILD_CONFIG", "NUDGE_CORPUS", "NUDGE_BENCH_NO_DOC"]

    package let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) { self.values = values }

    /// `NUDGE_*` names set here that `nudge` does not read (tests' own `NUDGE_TEST_*` aside).
    public var unknown: [String] {
        values.keys.filter { $0.hasPrefix("NUDGE_") && !$0.hasPrefix("NUDGE_TEST_") && !Self.known.contains($0) && !Self.tooling.contains($0) }
            .sorted()
    }

    package func string(_ name: String) -> String? {
        precondition(Self.known.contains(name), "\(name) is not listed in EnvironmentConfig.known")
        return values[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    package func int(_ name: String, _ range: ClosedRange<Int>, _ expected: String) throws -> Int? {
        guard let v = string(name) else { return nil }
        guard let n = Int(v), range.contains(n) else { throw ConfigError(variable: name, expected: expected) }
        return n
    }

    /// The configuration the environment gives; the flags of `nudge serve` are applied after.
    public func config() throws -> AppConfig {
        var c = AppConfig()
        c.dataDir = string("NUDGE_DATA_DIR") ?? c.dataDir
        c.databaseURL = string("NUDGE_DATABASE_URL")
        c.smtpURL = string("NUDGE_SMTP_URL")
        c.smtpLanes = try int("NUDGE_SMTP_LANES", 1...64, "a number of parallel SMTP connections from 1 to 64") ?? c.smtpLanes
        c.dispatchLoops = try int("NUDGE_DISPATCH_LOOPS", 1...16, "a number from 1 to 16") ?? c.dispatchLoops
        c.accountDispatchLoops = try int("NUDGE_ACCOUNT_DISPATCH_LOOPS", 1...16, "a number from 1 to 16") ?? c.accountDispatchLoops
        c.publicURL = string("NUDGE_PUBLIC_URL")
        if let url = string("NUDGE_LLM_URL") {
            guard let u = URL(string: url), ["http", "https"].contains(u.scheme ?? ""), u.host != nil else {
                throw ConfigError(variable: "NUDGE_LLM_URL", expected: "an http(s) URL of an OpenAI-compatible API, such as http://127.0.0.1:8081/v1")
            }
            c.llm = LLMSettings(url: url, model: string("NUDGE_LLM_MODEL") ?? "default", apiKey: string("NUDGE_LLM_API_KEY"))
        }
        if let v = string("NUDGE_RATE_LIMIT") {
            let parts = v.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            if v == "off" {
                c.rateLimit = nil
            } else if parts.count == 2, let rate = parts[0], let burst = parts[1], rate > 0, burst >= 1, rate.isFinite, burst.isFinite {
                c.rateLimit = (rate, burst)
            } else {
                throw ConfigError(variable: "NUDGE_RATE_LIMIT", expected: "requests per second and burst per token, such as 50,200, or off")
            }
        }
        if let v = string("NUDGE_ORG_DAILY_QUOTA") {
            if v == "off" {
                c.orgDailySendQuota = nil
            } else {
                c.orgDailySendQuota = try int("NUDGE_ORG_DAILY_QUOTA", 0...100_000_000, "a number of emails per organization per UTC day, or off")
            }
        }
        if let v = string("NUDGE_ALLOW_ANY_SENDER_DOMAIN") {
            guard ["0", "1"].contains(v) else { throw ConfigError(variable: "NUDGE_ALLOW_ANY_SENDER_DOMAIN", expected: "1 (any domain) or 0") }
            c.allowAnySenderDomain = v == "1"
        }
        if let v = string("NUDGE_WEBHOOK_ALLOW_PRIVATE") {
            guard ["0", "1"].contains(v) else {
                throw ConfigError(variable: "NUDGE_WEBHOOK_ALLOW_PRIVATE", expected: "1 (webhooks may reach private addresses) or 0")
            }
            c.webhookAllowPrivate = v == "1"
        }
        if let n = try int("NUDGE_WEBHOOK_CONCURRENCY", 1...4_096, "a number of webhook endpoints served at once per process") {
            c.webhookConcurrency = n
        }
        if let v = string("NUDGE_ALLOW_PRIVATE_MAIL_HOSTS") {
            guard ["0", "1"].contains(v) else {
                throw ConfigError(variable: "NUDGE_ALLOW_PRIVATE_MAIL_HOSTS", expected: "1 (inboxes' mail servers may be on private addresses) or 0")
            }
            c.allowPrivateMailHosts = v == "1"
        }
        c.mailCAFile = string("NUDGE_MAIL_CA_FILE")
        c.imapChunk = try int("NUDGE_IMAP_CHUNK", 1...200, "messages per IMAP fetch, from 1 to 200") ?? c.imapChunk
        c.imapKeptSessions = try int("NUDGE_IMAP_KEPT", 1...100_000, "IMAP connections kept open per process") ?? c.imapKeptSessions
        c.imapConcurrency = try int("NUDGE_IMAP_CONCURRENCY", 1...256, "mailboxes read at once per process, from 1 to 256") ?? c.imapConcurrency
        if let v = string("NUDGE_DNS_SERVER") {
            if v == "off" {
                c.dnsServer = nil
            } else {
                guard let server = DNSServerAddress(v) else {
                    throw ConfigError(
                        variable: "NUDGE_DNS_SERVER",
                        expected: "host:port of the DNS server for sending domains' checks, such as 127.0.0.1:53, or off")
                }
                c.dnsServer = server
            }
        }
        c.accountLanes = try int("NUDGE_ACCOUNT_LANES", 1...16, "a number of connections per inbox SMTP account from 1 to 16") ?? c.accountLanes
        c.mailHostCap = try int("NUDGE_MAIL_HOST_CAP", 1...256, "a number of connections per mail server from 1 to 256") ?? c.mailHostCap
        if let v = string("NUDGE_SECRET") {
            guard v.utf8.count >= 32 else { throw ConfigError(variable: "NUDGE_SECRET", expected: "at least 32 characters (random, kept private)") }
            c.secret = Array(v.utf8)
        }
        if let v = string("NUDGE_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: v) else {
                throw ConfigError(variable: "NUDGE_LOG_LEVEL", expected: "one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.logLevel = level
        }
        c.migrationsDir = ResourceLocator.find("migrations", setting: string("NUDGE_MIGRATIONS_DIR"))
        c.consoleDir = ResourceLocator.find("console", setting: string("NUDGE_CONSOLE_DIR"))
        c.promptsDir = ResourceLocator.find("prompts", setting: string("NUDGE_PROMPTS_DIR"))
        c.openAPIPath = ResourceLocator.find("docs/openapi.json", setting: string("NUDGE_OPENAPI_PATH"))
        return c
    }
}
