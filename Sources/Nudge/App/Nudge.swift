import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NudgeSMTP
import PostgresNIO
import ServiceLifecycle

/// The composition root: one of each store and service, built from configuration. `main` and the
/// tests both go through `buildApplication`, choosing the backends (database, SMTP, LLM, clock).
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
    public let transport: any MailTransport
    public let llm: (any LLMClient)?
    public let prompts: Prompts?
    public let logger: Logger
    public let keys: SigningKeys

    public init(config: AppConfig, postgres: PostgresClient, clock: any NudgeClock, logger: Logger,
                transport: (any MailTransport)? = nil, llm: (any LLMClient)? = nil, probe: PostgresClient? = nil) throws {
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
        self.db = Database(client: postgres, logger: logger)
        self.health = DatabaseHealth(client: probe ?? postgres, ownsClient: probe != nil, logger: logger)
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
    }

    /// Runs everything that is due now, to completion (the manual clock's `advance`).
    public func drainWork() async throws {
        for _ in 0..<100 {
            try await Judge(services: self).drain()
            let before = try await pendingWork()
            try await Dispatcher(services: self).drain()
            try await Judge(services: self).drain()
            if try await pendingWork() == 0 || before == 0 { break }
        }
    }

    /// Due sends and judgements, for `drainWork` to know when it is done.
    func pendingWork() async throws -> Int {
        let now = clock.now()
        return try await db.system { conn in
            try await conn.query("""
                SELECT (SELECT count(*) FROM enrollments WHERE state = 'active' AND next_due_at <= \(now) AND NOT held)
                     + (SELECT count(*) FROM judgements WHERE state = 'pending' AND next_attempt_at <= \(now))
                """, logger: logger).decode(Int.self).collect().first ?? 0
        }
    }

    public var llmConfigured: Bool { config.llm != nil }

    /// The long-lived loops this process runs, by role. With the manual clock nothing polls:
    /// `POST /v1/_clock/advance/` drives the work instead, so tests are deterministic.
    public func backgroundServices() -> [any Service] {
        var out: [any Service] = [Housekeeping(services: self)]
        if config.role != .api && !config.manualClock {
            out += [Dispatcher(services: self), Judge(services: self)]
        }
        return out
    }
}

/// `background` services start once the migrations have been applied (`schema`, given by tests
/// that watch it).
public func buildApplication(
    services: NudgeServices,
    background: [any Service] = [],
    schema: SchemaGate = SchemaGate()
) -> some ApplicationProtocol {
    let router = Router(context: AppContext.self)
    let routes = RouteTable()   // for 405 + Allow on known paths
    router.add(middleware: ErrorMiddleware<AppContext>(routes: routes))
    router.add(middleware: SlowClientGuard<AppContext>(bodyDeadline: services.config.requestBodyDeadline))
    OpsAPI(services: services).register(router, routes)

    if services.config.role != .worker {
        let v1 = router.group()
            .add(middleware: DatabaseGate(health: services.health))
            .add(middleware: AuthMiddleware(authenticator: services.authenticator,
                                             limiter: services.config.rateLimit.map { RateLimiter(perSecond: $0.perSecond, burst: $0.burst) }))
            .group(context: TenantContext.self)
        let r = ScopedRouter(group: v1, routes: routes,
                             idempotency: IdempotencyMiddleware(db: services.db, clock: services.clock, secret: services.config.secret))
        let s = services
        TokensAPI(store: s.tokens, authenticator: s.authenticator, clock: s.clock).register(r)
        InboxesAPI(store: s.inboxes, clock: s.clock, anyDomain: s.config.anySenderDomain).register(r)
        ContactsAPI(store: s.contacts, inboxes: s.inboxes, clock: s.clock).register(r)
        SequencesAPI(store: s.sequences, clock: s.clock, llmConfigured: s.llmConfigured).register(r)
        let enrollmentsAPI = EnrollmentsAPI(store: s.enrollments, contacts: s.contacts, sequences: s.sequences, db: s.db, clock: s.clock, llmConfigured: s.llmConfigured)
        enrollmentsAPI.register(r)
        PreviewAPI(services: s, enrollments: enrollmentsAPI).register(r)
        WorkflowRulesAPI(store: s.rules, clock: s.clock).register(r)
        EventsAPI(db: s.db).register(r)
        HistoryAPI(store: s.history).register(r)
        SuppressionsAPI(store: s.suppressions, clock: s.clock).register(r)
        InboundAPI(processor: InboundProcessor(db: s.db, clock: s.clock)).register(r)
        if s.config.dev, let manual = s.clock as? ManualClock {
            ClockAPI(services: s, clock: manual).register(r)
        }
        UnsubscribeAPI(store: s.suppressions, key: s.keys.unsubscribe, clock: s.clock).register(router, routes)
    }

    var app = Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .nanoseconds(services.config.idleTimeout.nanoseconds))),
        configuration: .init(address: .hostname(services.config.host, port: services.config.port), serverName: "nudge"),
        services: [services.db.client, services.health] + background.map { AfterSchema(gate: schema, service: $0) },
        logger: services.logger
    )
    let migrations = services.config.migrationsDir
    app.beforeServerStarts {
        try await Migrator(directory: migrations, logger: services.logger).migrate(services.db.client)
        schema.open()
    }
    return app
}
