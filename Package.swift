// swift-tools-version: 6.0
import PackageDescription

// Members of a module are visible only where that module is imported: a layer above the store
// cannot reach PostgresNIO's `query` through a connection the store hands it.
let layered: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "nudge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "nudge", targets: ["NudgeCLI"]),
        .library(name: "Nudge", targets: ["Nudge"]),
        .library(name: "NudgeMIME", targets: ["NudgeMIME"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        // Already in the graph through postgres-nio; named for the TLS context of the single
        // connections that look for the writable host of a multi-host database.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        // The Model Context Protocol's official Swift SDK: its tool, content and version types for
        // the /mcp endpoint, and its stdio transport for `nudge mcp`.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", exact: "0.12.1"),
    ],
    targets: [
        // libcurl, for SMTP (see Sources/CCurl/shim.h for why the setopt wrappers exist).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Inbound mail: MIME parsing, classification, bounce/ARF reports, reply-text extraction.
        .target(name: "NudgeMIME"),
        // Mail on the wire: composing RFC 5322 messages, DKIM signing, SMTP delivery and IMAP
        // reading with libcurl, DNS TXT lookups. No database, no HTTP.
        .target(
            name: "NudgeSMTP",
            dependencies: [
                "CCurl", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        // The layers below are a dependency chain the compiler enforces: nothing below NudgeHTTP
        // can name a Hummingbird or API type, and only NudgeStore can reach PostgreSQL.
        // The domain: ids, sequences and steps, enrollment states and their transitions, scopes,
        // the domain error, JSON coding, paging, clock. No HTTP, no database.
        .target(
            name: "NudgeCore",
            dependencies: [
                .product(name: "Mustache", package: "swift-mustache")
            ]
        ),
        // Every SQL statement, one store per table; migrations and the embedded cluster.
        .target(
            name: "NudgeStore",
            dependencies: [
                // NudgeMIME is pure parsing (no I/O): threads are keyed by its normalized subject.
                "NudgeCore", "NudgeMIME",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The pool's own error type (a tripped connection circuit breaker is an outage: 503).
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The background work: dispatch, inbound processing, the LLM writer and judge.
        .target(
            name: "NudgeWorkers",
            dependencies: [
                "NudgeCore", "NudgeStore", "NudgeMIME", "NudgeSMTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The thread pool that resolves webhook hosts (getaddrinfo blocks).
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: layered
        ),
        // The HTTP API: routes, authentication, idempotency, rate limits, the error envelope.
        .target(
            name: "NudgeHTTP",
            dependencies: [
                "NudgeCore", "NudgeStore", "NudgeWorkers", "NudgeMIME", "NudgeSMTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: layered
        ),
        // The MCP server: tools generated from the route table, each call dispatched in process
        // through the same router (auth, scopes, idempotency, validation, errors) as REST.
        .target(
            name: "NudgeMCP",
            dependencies: [
                "NudgeCore", "NudgeStore", "NudgeHTTP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: layered
        ),
        // The operator console: server-rendered pages (templates and static files in console/)
        // over the API, dispatched in process with a session's token.
        .target(
            name: "NudgeConsole",
            dependencies: [
                "NudgeCore", "NudgeStore", "NudgeHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: layered
        ),
        // The composition root: configuration, services, `buildApplication`.
        .target(
            name: "Nudge",
            dependencies: [
                "NudgeCore", "NudgeStore", "NudgeWorkers", "NudgeHTTP", "NudgeMCP", "NudgeConsole", "NudgeMIME", "NudgeSMTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: layered
        ),
        .executableTarget(
            name: "NudgeCLI",
            dependencies: [
                "Nudge", "NudgeCore", "NudgeStore", "NudgeWorkers", "NudgeMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "NudgeMIMETests", dependencies: ["NudgeMIME", "NudgeTestSupport"], exclude: ["oracle.py"]),
        // Test servers shared by the test targets (a scriptable SMTP server, Python's email parser).
        .target(
            name: "NudgeTestSupport", dependencies: ["NudgeCore"], path: "Tests/NudgeTestSupport",
            exclude: ["smtp_server.py", "webhook_receiver.py", "mcp_peer.py", "console_browser.py", "dkim_verify.py"]),
        .testTarget(
            name: "NudgeSMTPTests",
            dependencies: ["NudgeSMTP", "NudgeTestSupport", .product(name: "_CryptoExtras", package: "swift-crypto")]),
        .testTarget(
            name: "NudgeTests",
            dependencies: [
                "Nudge", "NudgeCore", "NudgeStore", "NudgeWorkers", "NudgeHTTP", "NudgeMCP", "NudgeConsole", "NudgeMIME", "NudgeSMTP",
                "NudgeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)
