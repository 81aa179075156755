import AsyncHTTPClient
import Foundation
import Logging
import NudgeCore
import NudgeSMTP
import NudgeStore
import ServiceLifecycle

public struct NudgeServices: Sendable {
    public let config: AppConfig
    public let db: Database
    public let health: DatabaseHealth
    public let clock: any NudgeClock
    public let authenticator: TokenAuthenticator
    public let tokens: TokenStore
    public let inboxes: InboxStore
    public let contacts: ContactStore
    public let sequences: SequenceStore
    public let enrollments: EnrollmentStore
    public let rules: WorkflowRuleStore
    public let history: HistoryStore
    public let suppressions: SuppressionStore
    public let senderDomains: SenderDomainStore
    public let webhooks: WebhookStore
    public let webhookSecrets: WebhookSecrets
    public let transport: any MailTransport
    /// Inboxes' own SMTP accounts (README, "Connected mailboxes").
    package let accounts: AccountTransports
    public let mailCredentials: MailCredentials
    public let domains: DomainStore
    package let domainSigners: DomainSigners
    package let mailboxes: MailboxSessions
    public let llm: (any LLMClient)?
    public let prompts: Prompts?
    public let logger: Logger
    public let keys: SigningKeys

    /// One pool on one server (tests, CLI commands); `probe`, the health probe's own pool.
    public init(
        config: AppConfig, postgres: DatabaseClient, clock: any NudgeClock, logger: Logger,
        transport: (any MailTransport)? = nil, llm: (any LLMClient)? = nil, probe: DatabaseClient? = nil
    ) throws {
        try self.init(
            config: config, db: Database(client: postgres, logger: logger),
            health: DatabaseHealth(client: probe ?? postgres, ownsClient: probe != nil, logger: logger),
            clock: clock, logger: logger, transport: transport, llm: llm)
    }

    /// A pool that follows the writable host (`nudge serve`), probed on a connection of its own.
    public init(
        config: AppConfig, pool: DatabasePool, clock: any NudgeClock, logger: Logger,
        transport: (any MailTransport)? = nil, llm: (any LLMClient)? = nil
    ) throws {
        try self.init(
            config: config, db: Database(pool: pool, logger: logger), health: DatabaseHealth(pool: pool, logger: logger),
            clock: clock, logger: logger, transport: transport, llm: llm)
    }

    private init(
        config: AppConfig, db: Database, health: DatabaseHealth, clock: any NudgeClock, logger: Logger,
        transport: (any MailTransport)?, llm: (any LLMClient)?
    ) throws {
        self.config = config
        self.keys = SigningKeys(secret: config.secret)
        let base: any MailTransport
        if let transport {
            base = transport
        } else if let url = config.smtpURL {
            base = try CurlSMTPTransport(url: url, lanes: config.smtpLanes)
        } else {
            base = OutboxDirectoryTransport(directory: config.outboxDir)
        }
        // A burst of server errors pauses this transport (README, "Delivery guarantee").
        self.transport = SendCircuit(base, lanes: config.smtpLanes, policy: config.sendCircuit, now: { clock.now() })
        if let settings = config.llm {
            self.llm = llm ?? OpenAIClient(settings: settings, logger: logger)
            self.prompts = try Prompts(directory: config.promptsDir)
        } else {
            self.llm = nil
            self.prompts = nil
        }
        self.logger = logger
        self.db = db
        self.health = health
        self.clock = clock
        self.authenticator = TokenAuthenticator(db: db, clock: clock)
        self.tokens = TokenStore(db: db)
        self.inboxes = InboxStore(db: db)
        self.sequences = SequenceStore(db: db)
        self.enrollments = EnrollmentStore(db: db)
        self.rules = WorkflowRuleStore(db: db, enrollments: enrollments)
        self.contacts = ContactStore(db: db, rules: rules)
        self.history = HistoryStore(db: db)
        self.suppressions = SuppressionStore(db: db)
        self.senderDomains = SenderDomainStore(db: db)
        self.webhooks = WebhookStore(db: db)
        self.webhookSecrets = WebhookSecrets(secret: config.secret)
        self.mailCredentials = MailCredentials(secret: config.secret)
        self.accounts = AccountTransports(config: config, credentials: mailCredentials, now: { clock.now() })
        self.domains = DomainStore(db: db)
        self.domainSigners = DomainSigners(credentials: mailCredentials)
        self.mailboxes = MailboxSessions(limit: config.imapKeptSessions)
    }

    /// Runs everything that is due now, to completion (the manual clock's `advance`).
    public func drainWork() async throws {
        // Replies waiting in connected mailboxes first, as the inbound endpoint's would have come.
        _ = try await MailboxReader(services: self).pollDue()
        for _ in 0..<100 {
            _ = try await HoldRelease(services: self).releaseDue()
            if llm != nil { try await IntentReviewer(services: self).drain() }
            try await Judge(services: self).drain()
            let before = try await pendingWork()
            try await Dispatcher(services: self).drain()
            try await Judge(services: self).drain()
            if try await pendingWork() == 0 || before == 0 { break }
        }
        try await DomainChecker(services: self).checkDue()
        // Last: the events of everything above, and webhook retries now due, go out.
        try await WebhookSender(services: self).drain()
    }

    /// Due sends and judgements, for `drainWork` to know when it is done.
    package func pendingWork() async throws -> Int {
        let now = clock.now()
        let steps = try await db.system { [logger] conn in try await EnrollmentStore.countDue(now: now, conn, logger: logger) }
        return try await steps + JudgementStore(db: db).countDue(now: now)
    }

    public var llmConfigured: Bool { config.llm != nil }

    /// The long-lived loops this process runs, by role. With the manual clock nothing polls:
    /// `POST /v1/_clock/advance/` drives the work instead, so tests are deterministic.
    public func backgroundServices() -> [any Service] {
        var out: [any Service] = [Housekeeping(services: self)]
        if config.role != .api && !config.manualClock {
            out += [
                Dispatcher(services: self), Judge(services: self), WebhookSender(services: self),
                RetentionWorker(services: self), HoldRelease(services: self), DomainChecker(services: self),
                MailboxReader(services: self),
            ]
            if llm != nil { out.append(IntentReviewer(services: self)) }
        }
        return out
    }
}

extension NudgeServices {
    /// `nudge explain claim`: the plan of the dispatcher's claim at `now`, executed and rolled back.
    /// By default the shared loops' claim (the relay's steps).
    package func explainClaim(now: Date, limit: Int? = nil, lane: DueStep.ClaimLane = .relay) async throws -> String {
        try await DueStep.explainClaim(now: now, limit: limit ?? config.dispatchBatchSize, lane: lane, db: db)
    }
}
