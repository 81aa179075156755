import Foundation
import Logging
import NudgeCore
import NudgeSMTP
import NudgeStore

/// Everything `nudge serve` can be told, from flags and `NUDGE_*` environment variables.
public struct AppConfig: Sendable {
    public enum Role: String, Sendable, CaseIterable { case all, api, worker }

    public var host = "127.0.0.1"
    public var port = 8080
    public var role: Role = .all
    public var dev = false
    /// Organizations may create inboxes on any domain (`NUDGE_ALLOW_ANY_SENDER_DOMAIN=1`; --dev
    /// implies it). Otherwise only on the domains an operator allowed them (`nudge domain allow`).
    public var allowAnySenderDomain = false
    public var anySenderDomain: Bool { dev || allowAnySenderDomain }
    public var manualClock = false
    public var dataDir = ".nudge"
    public var databaseURL: String?
    public var smtpURL: String?
    public var smtpLanes = 4
    /// When a burst of SMTP server errors pauses sending through the transport (SendCircuit).
    public var sendCircuit = SendCircuit.Policy.standard
    /// Inboxes' own SMTP accounts: connections kept per account, and at most this many to one
    /// server host across its accounts (`NUDGE_ACCOUNT_LANES`, `NUDGE_MAIL_HOST_CAP`).
    public var accountLanes = 2
    /// Accounts whose connections a process keeps between batches (least recently used dropped).
    public var accountTransportsKept = 256
    public var mailHostCap = 8
    /// Inboxes' mail servers may be on loopback, private, link-local or metadata addresses
    /// (`NUDGE_ALLOW_PRIVATE_MAIL_HOSTS=1`): for operators whose servers are inside their network, and tests.
    public var allowPrivateMailHosts = false
    /// A PEM file of CAs trusted for inboxes' mail servers instead of the system store (`NUDGE_MAIL_CA_FILE`).
    public var mailCAFile: String?
    /// When an account's server fails (4xx, no connection), its steps wait this long, then one
    /// probe goes; success lets the rest go at once.
    public var accountProbeInterval: TimeInterval = 5
    /// The DNS server that sending domains' DKIM records are looked up on (`NUDGE_DNS_SERVER`,
    /// host:port; default the first nameserver of /etc/resolv.conf); nil: no lookups.
    public var dnsServer: DNSServerAddress? = SystemResolver.first()
    /// Mailboxes read at once per process, and messages fetched (and processed side by side) per
    /// IMAP command.
    public var imapConcurrency = 8
    public var imapChunk = 16
    /// IMAP connections kept open between polls per process; beyond it the least recently used
    /// logs out (`NUDGE_IMAP_KEPT`).
    public var imapKeptSessions = 64
    /// How often each sending domain's records are checked again.
    public var domainCheckInterval: TimeInterval = 3_600
    public var publicURL: String?
    /// Key for unsubscribe tokens and Message-ID derivation.
    public var secret: [UInt8] = []
    public var llm: LLMSettings?
    public var migrationsDir = "migrations"
    /// The operator console's templates and static files (`console/`).
    public var consoleDir = "console"
    public var openAPIPath = "docs/openapi.json"
    public var promptsDir = "prompts"
    public var dispatchBatchSize = 200
    /// Claim loops per process (`NUDGE_DISPATCH_LOOPS`).
    public var dispatchLoops = 2
    /// Claim loops per process for inboxes with their own SMTP account, each serving one inbox at
    /// a time (`NUDGE_ACCOUNT_DISPATCH_LOOPS`): as many slow accounts at once as this, and the
    /// others' steps still go.
    public var accountDispatchLoops = 4
    public var pollInterval: Duration = .milliseconds(500)
    /// Messages of a batch not started by then are left due for the next batch: the claim
    /// transaction must end well inside the server's idle-in-transaction timeout (120 s), or a slow
    /// SMTP server would make PostgreSQL end it after the mails went out, and they would go again.
    public var dispatchSendBudget: Duration = .seconds(45)
    /// Requests per second and burst allowed per token; nil disables the limiter.
    public var rateLimit: (perSecond: Double, burst: Double)? = (50, 200)
    /// Emails an organization may send per UTC day unless `nudge org quota` set its own; nil: no cap.
    /// Steps over it wait for the next day (never dropped).
    public var orgDailySendQuota: Int? = 10_000
    /// Slow clients: a connection that sends nothing for `idleTimeout` is closed (this also bounds
    /// slow headers and stalled bodies); a body chunk waited for after `requestBodyDeadline` gets 408.
    public var idleTimeout: Duration = .seconds(30)
    public var requestBodyDeadline: Duration = .seconds(30)
    public var logLevel: Logger.Level = .info
    /// Webhooks may point at loopback, private, link-local and metadata addresses
    /// (`NUDGE_WEBHOOK_ALLOW_PRIVATE=1`): for operators whose receivers are inside their network, and tests.
    public var webhookAllowPrivate = false
    /// Webhook endpoints served at once per process (`NUDGE_WEBHOOK_CONCURRENCY`; one run in
    /// flight per endpoint), an organization at most a quarter of them: endpoints that hang hold
    /// their own slots, never all of them.
    public var webhookConcurrency = 64
    /// How often the webhook sender looks for new events when idle.
    public var webhookPollInterval: Duration = .milliseconds(200)

    public init() {}

    public var unsubscribeBase: String { (publicURL ?? "http://localhost:\(port)").trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
    public var outboxDir: String { dataDir + "/outbox" }
}

public struct LLMSettings: Sendable {
    public var url: String
    public var model: String
    public var apiKey: String?
    public var connectTimeout: Duration = .seconds(5)
    public var requestTimeout: Duration = .seconds(60)
    public var maxAttempts = 4
    public var concurrency = 4
    public init(url: String, model: String, apiKey: String?) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
    }
}

/// Resolves the folders the server reads at start-up (migrations, prompts): an explicit setting,
/// else the working directory, else the package root above the executable (`.build/debug/nudge`).
public enum ResourceLocator {
    public static func find(_ name: String, setting: String?) -> String {
        let fm = FileManager.default
        if let setting { return setting }
        if fm.fileExists(atPath: name) { return name }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
        var dir = URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent(name).path
            if fm.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return name
    }
}

/// The system's resolver, for sending domains' DNS checks when `NUDGE_DNS_SERVER` is not set.
public enum SystemResolver {
    public static func first(_ path: String = "/etc/resolv.conf") -> DNSServerAddress? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver" { return DNSServerAddress(host: String(fields[1]), port: 53) }
        }
        return nil
    }
}
