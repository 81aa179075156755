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
    public let clock: any NudgeClock
    public let authenticator: TokenAuthenticator
    public let tokens: TokenStore
    public let logger: Logger

    public init(config: AppConfig, postgres: PostgresClient, clock: any NudgeClock, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.db = Database(client: postgres, logger: logger)
        self.clock = clock
        self.authenticator = TokenAuthenticator(db: db, clock: clock)
        self.tokens = TokenStore(db: db)
    }

    /// The long-lived loops this process runs, by role. With the manual clock nothing polls:
    /// `POST /v1/_clock/advance/` drives the work instead, so tests are deterministic.
    public func backgroundServices() -> [any Service] {
        var out: [any Service] = [Housekeeping(services: self)]
        if config.role != .api && !config.manualClock {
            out += []
        }
        return out
    }
}

public func buildApplication(
    services: NudgeServices,
    background: [any Service] = []
) -> some ApplicationProtocol {
    let router = Router(context: AppContext.self)
    router.add(middleware: ErrorMiddleware<AppContext>())
    OpsAPI(services: services).register(router)

    if services.config.role != .worker {
        let v1 = router.group()
            .add(middleware: AuthMiddleware(authenticator: services.authenticator))
            .group(context: TenantContext.self)
        let r = ScopedRouter(group: v1)
        TokensAPI(store: services.tokens, authenticator: services.authenticator, clock: services.clock).register(r)
    }

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(services.config.host, port: services.config.port), serverName: "nudge"),
        services: [services.db.client] + background,
        logger: services.logger
    )
    let migrations = services.config.migrationsDir
    app.beforeServerStarts {
        try await Migrator(directory: migrations, logger: services.logger).migrate(services.db.client)
    }
    return app
}
