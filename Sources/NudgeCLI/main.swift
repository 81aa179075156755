import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import MCP
import NIOCore
import NIOFoundationCompat
import Nudge
import NudgeCore
import NudgeStore
import NudgeWorkers
import Synchronization

@main
struct NudgeCommand: AsyncParsableCommand {
    static func main() async {
        // Logs go to stderr (unbuffered); stdout carries only command results such as tokens.
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        // --verbose (anywhere) adds the full error to the one-line message of a failed command.
        var arguments = Array(CommandLine.arguments.dropFirst())
        let verbose = arguments.contains("--verbose")
        arguments.removeAll { $0 == "--verbose" }
        var command: any ParsableCommand
        do { command = try parseAsRoot(arguments) } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error where error is ValidationError || error is CleanExit || error is ExitCode {
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("nudge: \(Launcher.describe(error, verbose: verbose))\n".utf8))
            Foundation.exit(1)
        }
    }
    static let configuration = CommandConfiguration(
        commandName: "nudge",
        abstract: "Email follow-up sequences for AI agents: send each step on time, stop when the person replies.",
        subcommands: [Serve.self, Migrate.self, Org.self, Token.self, Domain.self, Secret.self, Explain.self, MCPCommand.self]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API and the background workers.")
    @Option(help: "Port for the HTTP API.") var port: Int = 8080
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(help: "all, api or worker.") var role: String = "all"
    @Flag(help: "Development mode (allows --clock manual).") var dev = false
    @Option(help: "system or manual (manual needs --dev).") var clock: String = "system"

    func run() async throws {
        guard let role = AppConfig.Role(rawValue: role) else { throw ValidationError("--role must be all, api or worker") }
        guard ["system", "manual"].contains(clock) else { throw ValidationError("--clock must be system or manual") }
        if clock == "manual" && !dev { throw ValidationError("--clock manual is refused without --dev") }
        var config = try Launcher.environmentConfig()
        config.port = port
        config.host = host
        config.role = role
        config.dev = dev
        config.manualClock = clock == "manual"
        try await Launcher.serve(config)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the SQL files of migrations/ in order, once each.")
    func run() async throws {
        let applied = try await Launcher.withDatabase(try Launcher.environmentConfig()) { _, applied in applied }
        print(#"{"applied": \#(applied.count)}"#)
    }
}

struct Org: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage organizations.", subcommands: [Create.self, Quota.self, Retention.self])
    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an organization's daily send quota (emails per UTC day).")
        @Option(help: "Organization id (org_…).") var org: String
        @Option(help: "Emails per UTC day (0 stops sending), or 'default' for the server's NUDGE_ORG_DAILY_QUOTA.") var daily: String
        func run() async throws {
            guard ID.isValid(org, .org) else { throw ValidationError("--org must be an organization id (org_…)") }
            let quota: Int?
            if daily == "default" {
                quota = nil
            } else {
                guard let n = Int(daily), n >= 0, n <= 100_000_000 else {
                    throw ValidationError("--daily must be a number from 0 to 100000000, or 'default'")
                }
                quota = n
            }
            let line = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                guard try await services.tokens.setDailySendQuota(org: org, quota: quota) else { throw CLIError("no organization \(org)") }
                return Launcher.json(["org_id": org, "daily_send_quota": quota.map(String.init) ?? "default"])
            }
            print(line)
        }
    }
    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set how many days an organization keeps events, message bodies and LLM call logs (defaults 30, 365, 90).")
        @Option(help: "Organization id (org_…).") var org: String
        @Option(help: "Days events are kept.") var eventsDays = RetentionPolicy.defaults.eventsDays
        @Option(help: "Days message bodies and raw sources are kept (ids, references and threads stay).") var bodiesDays = RetentionPolicy.defaults
            .bodiesDays
        @Option(help: "Days LLM call records are kept.") var llmCallsDays = RetentionPolicy.defaults.llmCallsDays
        func run() async throws {
            guard ID.isValid(org, .org) else { throw ValidationError("--org must be an organization id (org_…)") }
            for (name, days) in [("--events-days", eventsDays), ("--bodies-days", bodiesDays), ("--llm-calls-days", llmCallsDays)]
            where !RetentionPolicy.allowedDays.contains(days) {
                throw ValidationError("\(name) must be 1 to 36500 days")
            }
            let policy = RetentionPolicy(eventsDays: eventsDays, bodiesDays: bodiesDays, llmCallsDays: llmCallsDays)
            let line = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                guard try await services.tokens.setRetention(org: org, policy) else { throw CLIError("no organization \(org)") }
                return Launcher.json([
                    "org_id": org, "events_days": String(eventsDays), "bodies_days": String(bodiesDays), "llm_calls_days": String(llmCallsDays),
                ])
            }
            print(line)
        }
    }
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization and its first admin token.")
        @Argument(help: "The organization's name.") var name: String
        func run() async throws {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.count <= 200 else { throw ValidationError("NAME must be 1 to 200 characters") }
            let line = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                let (org, token) = try await services.tokens.createOrg(name: trimmed, now: Date())
                return Launcher.json(["org_id": org, "admin_token": token.token])
            }
            print(line)
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage API tokens.", subcommands: [Create.self])
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for an organization.")
        @Option(help: "Organization id (org_…).") var org: String
        @Option(help: "Token name.") var name: String
        @Option(help: "Comma-separated scopes, e.g. contacts:read,contacts:write.") var scopes: String
        func run() async throws {
            let list = scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let line = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                try await Launcher.createToken(services, org: org, name: name, scopes: list)
            }
            print(line)
        }
    }
}

struct Domain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The domains an organization may send from (its inboxes' addresses); --dev or NUDGE_ALLOW_ANY_SENDER_DOMAIN=1 allows any.",
        subcommands: [Allow.self, List.self, Remove.self])

    struct Options: ParsableArguments {
        @Option(help: "Organization id (org_…).") var org: String
        func validate() throws { guard ID.isValid(org, .org) else { throw ValidationError("--org must be an organization id (org_…)") } }
    }

    static func checked(_ domain: String) throws -> String {
        let d = SenderDomainStore.normalized(domain)
        guard case .success = Mailbox.validate("x@\(d)") else { throw ValidationError("DOMAIN must be a domain name such as example.com") }
        return d
    }

    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let an organization create inboxes on a domain.")
        @OptionGroup var options: Options
        @Argument(help: "The domain, e.g. acme.com (subdomains are separate domains).") var domain: String
        func run() async throws {
            let d = try Domain.checked(domain)
            let line = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                guard try await services.senderDomains.allow(org: options.org, domain: d, now: Date()) else {
                    throw CLIError("no organization \(options.org)")
                }
                return Launcher.json(["org_id": options.org, "domain": d, "allowed": "true"])
            }
            print(line)
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's sender domains.")
        @OptionGroup var options: Options
        func run() async throws {
            let domains = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                try await services.senderDomains.list(org: options.org)
            }
            domains.forEach { print($0) }
        }
    }
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a sender domain no inbox of the organization uses.")
        @OptionGroup var options: Options
        @Argument(help: "The domain.") var domain: String
        func run() async throws {
            let d = try Domain.checked(domain)
            let outcome = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                try await services.senderDomains.remove(org: options.org, domain: d)
            }
            switch outcome {
            case .removed: print(Launcher.json(["org_id": options.org, "domain": d, "allowed": "false"]))
            case .notFound: throw CLIError("\(d) is not a sender domain of \(options.org)")
            case .inUse(let n): throw CLIError("\(n) inbox(es) of \(options.org) send from \(d); it stays allowed")
            }
        }
    }
}

struct Secret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage what NUDGE_SECRET protects.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal stored mail passwords under the current NUDGE_SECRET; the previous secret is read from NUDGE_OLD_SECRET.")
        func run() async throws {
            guard let previous = ProcessInfo.processInfo.environment["NUDGE_OLD_SECRET"], previous.utf8.count >= 32 else {
                throw CLIError("set NUDGE_OLD_SECRET to the previous secret (at least 32 characters) and NUDGE_SECRET to the new one")
            }
            let report = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                try await SecretRotation(services: services).run(previous: Array(previous.utf8))
            }
            print(
                Launcher.json([
                    "resealed": "\(report.resealed)", "already_current": "\(report.alreadyCurrent)",
                    "unopenable": report.unopenable.joined(separator: ","),
                ]))
            if !report.unopenable.isEmpty {
                throw CLIError("\(report.unopenable.count) password(s) open with neither secret: set them again through the API")
            }
        }
    }
}

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how PostgreSQL runs Nudge's hot statements.", subcommands: [Claim.self])
    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "EXPLAIN (ANALYZE, BUFFERS) of the dispatcher's claim, run and rolled back (it locks the claimed rows meanwhile).")
        @Option(help: "Claim as if it were this many seconds from now.") var ahead: Double = 0
        @Option(help: "Batch size (default: the dispatcher's).") var limit: Int?
        @Flag(help: "Every due step, not only those of inboxes without their own SMTP account (the shared loops' claim).")
        var all = false
        func run() async throws {
            if let limit, !(1...10_000).contains(limit) { throw ValidationError("--limit must be from 1 to 10000") }
            guard ahead.isFinite, abs(ahead) <= 366 * 86_400 else { throw ValidationError("--ahead must be within a year") }
            let plan = try await Launcher.withDatabase(try Launcher.environmentConfig()) { services, _ in
                try await services.explainClaim(now: Date().addingTimeInterval(ahead), limit: limit, lane: all ? .all : .relay)
            }
            print(plan)
        }
    }
}

/// `nudge mcp`: MCP over stdio for a local agent (a desktop MCP client starts it). Each message
/// read from stdin is posted to `$NUDGE_URL/mcp` with `$NUDGE_TOKEN`, and the answer written to
/// stdout: the tools, scopes, limits and errors are the server's, the same as over HTTP.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve MCP over stdio, relayed to a running server: NUDGE_URL (default http://127.0.0.1:8080) and NUDGE_TOKEN (a scoped token).")

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let token = env["NUDGE_TOKEN"], !token.isEmpty else { throw ValidationError("NUDGE_TOKEN must hold an API token (nudge_…)") }
        let base = (env["NUDGE_URL"] ?? "http://127.0.0.1:8080").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard let url = URL(string: base + "/mcp"), url.scheme == "http" || url.scheme == "https" else {
            throw ValidationError("NUDGE_URL must be an http(s) URL such as http://127.0.0.1:8080")
        }
        let stdio = StdioTransport()
        try await stdio.connect()
        // A server that is not running is an answer at once (not connection retries until the
        // request's deadline): the agent's client then shows the error.
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(300)))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        // Each message is relayed on its own, so a slow tool call does not hold up a ping; the
        // session is kept before the answer to initialize is written (the client sends nothing
        // that needs it before reading that answer).
        let session = MCPSessionBox()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for try await message in await stdio.receive() {
                    group.addTask {
                        let answer = await Self.relay(message, to: url, token: token, session: session, client: client)
                        if !answer.isEmpty { try await stdio.send(answer) }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// The server's answer to one message (empty for a notification), or a JSON-RPC error.
    static func relay(_ message: Data, to url: URL, token: String, session: MCPSessionBox, client: HTTPClient) async -> Data {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let s = session.id.withLock({ $0 }) { request.headers.add(name: "Mcp-Session-Id", value: s) }
        request.body = .bytes(ByteBuffer(data: message))
        do {
            let response = try await client.execute(request, timeout: .seconds(300))
            if let s = response.headers.first(name: "Mcp-Session-Id") { session.id.withLock { $0 = s } }
            let body = Data(buffer: try await response.body.collect(upTo: 64 << 20))
            if response.status == .accepted || body.isEmpty { return Data() }
            return isJSONRPC(body)
                ? answering(message, body) : error(for: message, "HTTP \(response.status.code): \(String(decoding: body.prefix(500), as: UTF8.self))")
        } catch {
            return Self.error(for: message, "Nudge at \(url.absoluteString) is not reachable: \(error)")
        }
    }

    static func isJSONRPC(_ body: Data) -> Bool {
        (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["jsonrpc"] as? String == "2.0"
    }

    /// `answer` with the id of `message` when the server refused it before reading it (the
    /// database gate, authentication: `"id": null`), so that the client can match it.
    static func answering(_ message: Data, _ answer: Data) -> Data {
        guard var a = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], a["id"] is NSNull,
            let m = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let id = m["id"]
        else { return answer }
        a["id"] = id
        return (try? JSONSerialization.data(withJSONObject: a)) ?? answer
    }

    /// A JSON-RPC error answering `message` (nothing for a notification).
    static func error(for message: Data, _ text: String) -> Data {
        guard let m = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let id = m["id"] else { return Data() }
        let e: [String: Any] = ["jsonrpc": "2.0", "id": id, "error": ["code": -32603, "message": text]]
        return (try? JSONSerialization.data(withJSONObject: e)) ?? Data()
    }
}

/// The session `initialize` opened, shared by the relay's tasks.
final class MCPSessionBox: Sendable {
    let id = Mutex<String?>(nil)
}
