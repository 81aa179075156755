import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NudgeConsole
import NudgeCore
import NudgeHTTP
import NudgeMCP
import NudgeSMTP
import NudgeStore
import NudgeWorkers
import ServiceLifecycle

/// The composition root: one of each store and service, built from configuration. `main` and the
/// tests both go through `buildApplication`, choosing the backends (database, SMTP, LLM, clock).
/// `background` services start once the migrations have been applied (`schema`, given by tests
/// that watch it). Throws when `/mcp` cannot be built (see `MCPEndpoint.make`): the server does
/// not start without it.
public func buildApplication(
    services: NudgeServices,
    background: [any Service] = [],
    schema: SchemaGate = SchemaGate()
) throws -> some ApplicationProtocol {
    let router = Router(context: AppContext.self)
    let routes = RouteTable()  // for 405 + Allow on known paths
    router.add(middleware: ErrorMiddleware<AppContext>(routes: routes))
    router.add(middleware: SlowClientGuard<AppContext>(bodyDeadline: services.config.requestBodyDeadline))
    OpsAPI(services: services).register(router, routes)

    var mcp: MCPEndpoint?
    var console: Console?
    if services.config.role != .worker {
        // One limiter for REST and MCP: a tool call is limited as the API request it becomes.
        let limiter = services.config.rateLimit.map { RateLimiter(perSecond: $0.perSecond, burst: $0.burst) }
        let v1 = router.group()
            .add(middleware: DatabaseGate(health: services.health))
            .add(middleware: AuthMiddleware(authenticator: services.authenticator, limiter: limiter))
            .group(context: TenantContext.self)
        let r = ScopedRouter(
            group: v1, routes: routes,
            idempotency: IdempotencyMiddleware(db: services.db, clock: services.clock, secret: services.config.secret))
        registerAPI(r, services: services)
        let s = services
        UnsubscribeAPI(store: s.suppressions, key: s.keys.unsubscribe, clock: s.clock).register(router, routes)
        mcp = try MCPEndpoint.make(services: s, routes: routes, limiter: limiter)
        mcp?.register(
            router.group()
                .add(middleware: MCPRefusals())
                .add(middleware: DatabaseGate(health: services.health))
                .add(middleware: AuthMiddleware(authenticator: services.authenticator, limiter: nil)),
            routes)
        console = Console(
            directory: s.config.consoleDir, sessions: ConsoleSessionStore(db: s.db), reads: ConsoleReads(db: s.db),
            authenticator: s.authenticator, clock: s.clock, dev: s.config.dev, logger: s.logger)
        console?.register(router, routes, gate: DatabaseGate(health: s.health))
    }

    let responder = router.buildResponder()
    mcp?.bind(responder)  // tool calls go through the same router
    console?.bind(responder)  // and so do the console's pages
    var app = Application(
        responder: responder,
        server: .http1(configuration: .init(idleTimeout: .nanoseconds(services.config.idleTimeout.nanoseconds))),
        configuration: .init(address: .hostname(services.config.host, port: services.config.port), serverName: "nudge"),
        services: [services.db.service, services.health] + background.map { AfterSchema(gate: schema, service: $0) },
        logger: services.logger
    )
    let migrations = services.config.migrationsDir
    app.beforeServerStarts {
        try await Migrator(directory: migrations, logger: services.logger).migrate(services.db.writableClient())
        schema.open()
    }
    return app
}

/// Every `/v1` operation with the scopes it needs: the REST API, and what the MCP tools are
/// generated from (`MCPTests` checks that each one has a tool decision).
package func registerAPI(_ r: ScopedRouter, services s: NudgeServices) {
    TokensAPI(store: s.tokens, authenticator: s.authenticator, clock: s.clock).register(r)
    InboxesAPI(store: s.inboxes, clock: s.clock, anyDomain: s.config.anySenderDomain, credentials: s.mailCredentials, config: s.config).register(r)
    DomainsAPI(services: s).register(r)
    ContactsAPI(store: s.contacts, inboxes: s.inboxes, clock: s.clock).register(r)
    SequencesAPI(store: s.sequences, clock: s.clock, llmConfigured: s.llmConfigured).register(r)
    SequenceStatsAPI(sequences: s.sequences, stats: SequenceStatsStore(db: s.db)).register(r)
    let enrollmentsAPI = EnrollmentsAPI(
        store: s.enrollments, contacts: s.contacts, sequences: s.sequences, db: s.db, clock: s.clock, llmConfigured: s.llmConfigured)
    enrollmentsAPI.register(r)
    PreviewAPI(services: s, enrollments: enrollmentsAPI).register(r)
    WorkflowRulesAPI(store: s.rules, clock: s.clock).register(r)
    DraftsAPI(store: DraftStore(db: s.db), clock: s.clock).register(r)
    EventsAPI(db: s.db).register(r)
    HistoryAPI(store: s.history).register(r)
    SuppressionsAPI(store: s.suppressions, clock: s.clock).register(r)
    WebhooksAPI(
        store: s.webhooks, secrets: s.webhookSecrets, clock: s.clock, allowHTTP: s.config.dev, allowPrivate: s.config.webhookAllowPrivate
    ).register(r)
    InboundAPI(processor: InboundProcessor(db: s.db, clock: s.clock, reviewIntents: s.llmConfigured)).register(r)
    if s.config.dev, let manual = s.clock as? ManualClock {
        ClockAPI(services: s, clock: manual).register(r)
    }
}
