import Foundation
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Hostile input through the real endpoints, limits, and the embedded cluster's life cycle.
@Suite struct RobustnessTests {
    /// Thousands of mutated corpus messages: every answer is a 2xx or a 4xx, never a 5xx or a hang.
    @Test func mutatedCorpusMessagesNeverBreakTheInboundEndpoint() async throws {
        let files = try InboundTests.manifest().map(\.file)
        try await Harness.run { h in
            var rng = SplitMix(state: 20_261_127)
            let inbox = try await h.inbox()
            var statuses: [Int: Int] = [:]
            for i in 0..<1_500 {
                var raw = Array(try Data(contentsOf: InboundTests.corpus.appendingPathComponent(files[Int(rng.next() % UInt64(files.count))])))
                switch i % 4 {
                case 0, 1: raw = Mutation.mutate(raw, &rng)
                case 2:
                    raw =
                        Array("Content-Type: multipart/mixed; boundary=b\r\n\r\n".utf8)
                        + Array(repeating: Array("--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".utf8), count: 300).flatMap { $0 }
                case 3 where i % 8 == 3:
                    raw =
                        Array("Subject: ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 200_000)
                        + Array("\r\nMessage-ID: <\(i)@x>\r\n\r\nbody".utf8)
                default: raw = Array("From: =?bogus-charset?B?!!!?=\r\nMessage-ID: <m\(i)@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@###".utf8)
                }
                let r = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: raw)
                statuses[r.status, default: 0] += 1
                #expect(r.status < 500, "mutation \(i): \(r.body.prefix(200))")
            }
            print("mutated inbound statuses: \(statuses.sorted { $0.key < $1.key })")
        }
    }

    @Test func perTokenRateLimitAnswers429WithRetryAfter() async throws {
        // A bucket that refills once in 100 s, so a slow machine between the calls cannot refill it.
        try await Harness.run(configure: { $0.rateLimit = (0.01, 3) }) { h in
            var codes: [Int] = []
            for _ in 0..<5 { codes.append(try await h.call(.get, "/v1/tokens/me/").status) }
            #expect(codes.prefix(3).allSatisfy { $0 == 200 })
            let limited = try await h.call(.get, "/v1/tokens/me/")
            #expect(limited.status == 429)
            #expect(limited.errorType == "rate_limited")
            #expect(limited.headers[.retryAfter] != nil)
            // Another token has its own bucket.
            #expect(try await h.call(.get, "/v1/tokens/me/", token: try await h.token(["contacts:read"])).status == 200)
        }
    }

    /// `nudge` with no database URL: initialises and starts its own cluster, migrates, stops it.
    @Test func embeddedClusterStartsMigratesAndStops() async throws {
        let dir = (ProcessInfo.processInfo.environment["NUDGE_TEST_TMP"] ?? "/tmp") + "/nudge-test-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = AppConfig()
        config.dataDir = dir
        config.migrationsDir = TestCluster.packageRoot.appendingPathComponent("migrations").path
        let line = try await Launcher.withDatabase(config) { services, applied in
            #expect(applied.count >= 2)
            let (org, token) = try await services.tokens.createOrg(name: "Embedded", now: Date())
            SecretLedger.record(token.token)
            return Launcher.json(["org_id": org, "admin_token": token.token])
        }
        #expect(line.contains("nudge_"))
        let pg = EmbeddedPostgres(dataDir: dir, logger: .init(label: "t"))
        #expect(try pg.isRunning() == false)  // stopped by the command that started it
        // A second command finds the data and migrations already there.
        let again = try await Launcher.withDatabase(config) { _, applied in applied.count }
        #expect(again == 0)
    }
}
