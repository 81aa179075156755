import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// A response, decoded.
struct Reply {
    let status: Int
    let json: JSONValue
    let headers: HTTPFields
    let body: String

    subscript(_ key: String) -> JSONValue? { json[key] }
    var id: String { json["id"]?.string ?? "" }
    var errorParam: String? { json["error"]?["param"]?.string }
    var errorType: String? { json["error"]?["type"]?.string }
}

/// The app under test, in process, over real HTTP routing, with its own database and clock.
struct Harness: Sendable {
    let services: NudgeServices
    let client: any TestClientProtocol
    let clock: ManualClock
    let org: String
    let admin: String

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, _ json: String? = nil,
        headers: HTTPFields = [:], raw: [UInt8]? = nil
    ) async throws -> Reply {
        var h = headers
        if let t = token ?? (headers[.authorization] == nil ? admin : nil) {
            h[.authorization] = "Bearer \(t)"
            SecretLedger.scan(t)
        }
        if json != nil { h[.contentType] = "application/json" }
        let body: ByteBuffer? = raw.map { ByteBuffer(bytes: $0) } ?? json.map { ByteBuffer(string: $0) }
        return try await client.execute(uri: path, method: method, headers: h, body: body) { r in
            let text = String(buffer: r.body)
            SecretLedger.scan(text)
            return Reply(status: Int(r.status.code), json: JSONValue.parse(text) ?? .null, headers: r.headers, body: text)
        }
    }

    /// A token of this organization with exactly `scopes`.
    func token(_ scopes: [String], org: String? = nil) async throws -> String {
        let t = try await services.tokens.issue(org: org ?? self.org, name: "t", scopes: scopes, expiresAt: nil, createdBy: nil, now: clock.now())
            .token
        SecretLedger.record(t)
        return t
    }

    /// Another organization with its admin token.
    func otherOrg() async throws -> (org: String, admin: String) {
        let (o, t) = try await services.tokens.createOrg(name: "Other", now: clock.now())
        SecretLedger.record(t.token)
        return (o, t.token)
    }

    func advance(seconds: Double) async throws -> Reply {
        try await call(.post, "/v1/_clock/advance/", #"{"seconds": \#(seconds)}"#)
    }

    func inbox(_ address: String = "sales-\(Int.random(in: 0..<1_000_000_000))@acme.test", extra: String = "") async throws -> String {
        let r = try await call(.post, "/v1/inboxes/", #"{"address": "\#(address)", "display_name": "Acme Sales", "timezone": "UTC"\#(extra)}"#)
        try #require(r.status == 201, "inbox: \(r.body)")
        return r.id
    }

    /// `run` with a fresh real SMTP server (the tests' aiosmtpd) as the transport, `lanes` wide.
    static func withSMTP(
        lanes: Int = 1,
        llm: LLMSettings? = nil,
        configure: (inout AppConfig) -> Void = { _ in },
        _ body: @Sendable (Harness, TestSMTPServer) async throws -> Void
    ) async throws {
        let smtp = try await TestSMTPServer()
        try await run(llm: llm, transport: try CurlSMTPTransport(url: smtp.url, lanes: lanes), configure: configure) { h in
            try await body(h, smtp)
        }
    }

    static func run(
        llm: LLMSettings? = nil,
        transport: (any MailTransport)? = nil,
        configure: (inout AppConfig) -> Void = { _ in },
        logger: Logger = TestCluster.logger,
        testing: TestingSetup = .router,
        database: PostgresClient.Configuration? = nil,
        background extra: (NudgeServices) -> [any Service] = { _ in [] },
        _ body: @Sendable (Harness) async throws -> Void
    ) async throws {
        Launcher.bootstrapMetrics()
        var config = AppConfig()
        config.dev = true
        config.manualClock = true
        config.port = 8080
        config.secret = Array("test-secret-0123456789-abcdefghijklmnop".utf8)
        config.migrationsDir = TestCluster.packageRoot.appendingPathComponent("migrations").path
        config.consoleDir = TestCluster.packageRoot.appendingPathComponent("console").path
        config.promptsDir = TestCluster.packageRoot.appendingPathComponent("prompts").path
        config.openAPIPath = TestCluster.packageRoot.appendingPathComponent("docs/openapi.json").path
        config.dataDir = NSTemporaryDirectory() + "nudge-app-\(UUID().uuidString)"
        config.llm = llm
        config.rateLimit = nil
        // Tests reach loopback only: a test that checks sending domains starts its own DNS server.
        config.dnsServer = nil
        // The live test client keeps one connection, idle while a peer (the MCP client, Chromium)
        // works for minutes under the suite's load; the tests of the idle timeout set their own.
        config.idleTimeout = .seconds(600)
        configure(&config)
        let watch = HarnessWatch()
        defer { watch.end() }
        let db: PostgresClient.Configuration
        if let database { db = database } else { db = try await TestCluster.shared.database() }
        watch.enter("starting the app")
        let postgres = PostgresClient(configuration: db, backgroundLogger: logger)
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_795_000_000))  // a Monday-ish fixed start
        let services = try NudgeServices(
            config: config, postgres: postgres, clock: clock, logger: logger,
            transport: transport ?? OutboxDirectoryTransport(directory: config.outboxDir))
        let app = try buildApplication(services: services, background: services.backgroundServices() + extra(services))
        try await app.test(testing) { client in
            watch.enter("the test's body")
            let (org, token) = try await services.tokens.createOrg(name: "Acme", now: clock.now())
            SecretLedger.record(token.token)
            try await body(Harness(services: services, client: client, clock: clock, org: org, admin: token.token))
            watch.enter("stopping the app's services")
        }
        try? FileManager.default.removeItem(atPath: config.dataDir)
    }
}

/// Says on standard error where a harness still is after minutes: a test run once stalled with
/// one test unfinished and nothing running, and its output did not say where.
final class HarnessWatch: Sendable {
    private let phase = Mutex("creating its database")
    private let timer: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(after: Duration = .seconds(300)) {
        let name = Test.current?.name ?? "?"
        let task = Task { [weak self] in
            var waited = Duration.zero
            while (try? await Task.sleep(for: after)) != nil {
                waited += after
                guard let now = self?.phase.withLock({ $0 }) else { return }
                FileHandle.standardError.write(Data("[harness] \(name): still \(now) after \(waited)\n".utf8))
            }
        }
        timer.withLock { $0 = task }
    }

    func enter(_ next: String) { phase.withLock { $0 = next } }

    func end() { timer.withLock { $0 }?.cancel() }
}
