import Foundation
import Testing

@testable import Nudge
@testable import NudgeCore
@testable import NudgeHTTP
@testable import NudgeStore
@testable import NudgeWorkers

/// `NUDGE_*` variables are read in one place; a value that cannot be used stops start-up with an
/// error naming the variable and what it takes, never a silent default.
@Suite struct ConfigTests {
    static func config(_ values: [String: String]) throws -> AppConfig { try EnvironmentConfig(values).config() }

    @Test(arguments: [
        ("NUDGE_SMTP_LANES", "four"), ("NUDGE_SMTP_LANES", "0"), ("NUDGE_SMTP_LANES", "65"),
        ("NUDGE_DISPATCH_LOOPS", "x"), ("NUDGE_DISPATCH_LOOPS", "17"), ("NUDGE_ACCOUNT_DISPATCH_LOOPS", "0"),
        ("NUDGE_RATE_LIMIT", "50"), ("NUDGE_RATE_LIMIT", "fast,200"), ("NUDGE_RATE_LIMIT", "50,200,1"), ("NUDGE_RATE_LIMIT", "0,10"),
        ("NUDGE_ORG_DAILY_QUOTA", "-1"), ("NUDGE_ORG_DAILY_QUOTA", "lots"),
        ("NUDGE_ALLOW_ANY_SENDER_DOMAIN", "yes"),
        ("NUDGE_SECRET", "short"),
        ("NUDGE_LOG_LEVEL", "verbose"),
        ("NUDGE_LLM_URL", "not a url"), ("NUDGE_LLM_URL", "ftp://x/v1"),
    ])
    func malformedValueIsAnErrorNamingTheVariable(name: String, value: String) throws {
        do {
            _ = try Self.config([name: value])
            Issue.record("\(name)=\(value) was accepted")
        } catch let e as ConfigError {
            #expect(e.variable == name)
            #expect(e.description.hasPrefix("\(name) must be "), "\(e.description)")
        }
    }

    @Test func wellFormedValuesAreUsedAndEmptyMeansDefault() throws {
        let c = try Self.config([
            "NUDGE_SMTP_LANES": "8", "NUDGE_DISPATCH_LOOPS": "3", "NUDGE_ACCOUNT_DISPATCH_LOOPS": "6", "NUDGE_RATE_LIMIT": "10.5,20",
            "NUDGE_ORG_DAILY_QUOTA": "off",
            "NUDGE_ALLOW_ANY_SENDER_DOMAIN": "1", "NUDGE_LOG_LEVEL": "debug", "NUDGE_LLM_URL": "http://127.0.0.1:9/v1",
            "NUDGE_SECRET": String(repeating: "s", count: 32), "NUDGE_DATA_DIR": "",
        ])
        #expect(c.smtpLanes == 8 && c.dispatchLoops == 3 && c.accountDispatchLoops == 6 && c.rateLimit?.perSecond == 10.5 && c.rateLimit?.burst == 20)
        #expect(c.orgDailySendQuota == nil && c.allowAnySenderDomain && c.logLevel == .debug && c.llm?.model == "default")
        #expect(c.dataDir == ".nudge" && c.secret.count == 32)
        #expect(try Self.config(["NUDGE_RATE_LIMIT": "off"]).rateLimit == nil)
        let defaults = try Self.config([:])
        #expect(
            defaults.smtpLanes == 4 && defaults.accountDispatchLoops == 4 && defaults.rateLimit?.burst == 200 && defaults.orgDailySendQuota == 10_000
                && defaults.llm == nil)
    }

    @Test func unknownNudgeVariablesAreReported() {
        let env = EnvironmentConfig(["NUDGE_SMTP_ULR": "smtp://x", "NUDGE_TEST_TMP": "/tmp", "NUDGE_DATA_DIR": "x", "PATH": "/bin"])
        #expect(env.unknown == ["NUDGE_SMTP_ULR"])
    }

    /// The CLI ends a failed command with one or two readable lines, not a dump of an error value.
    @Test func commandErrorsReadAsOneOrTwoLines() {
        let missing = Migrator.MissingRoles(user: "app", sql: "GRANT nudge_api, nudge_worker TO \"app\";")
        for error: any Error in [ConfigError(variable: "NUDGE_SMTP_LANES", expected: "a number"), CLIError("no organization org_x"), missing] {
            let text = Launcher.describe(error)
            #expect(!text.contains("(") || text.contains("SQLSTATE") || text.contains("(that takes"), "\(text)")
            #expect(!text.contains("detail:"))
        }
        #expect(Launcher.describe(missing).contains("GRANT nudge_api, nudge_worker TO \"app\";"))
        #expect(Launcher.describe(ConfigError(variable: "X", expected: "y"), verbose: true).contains("detail:"))
    }
}
