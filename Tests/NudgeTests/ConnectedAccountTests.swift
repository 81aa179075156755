import Foundation
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Inboxes with their own SMTP account (README, "Connected mailboxes"): real aiosmtpd servers with
/// AUTH and STARTTLS, one per account, next to the relay.
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct ConnectedAccountTests {
    static let password = "s3cret pass/with:odd@chars"

    /// Runs `body` with the relay and one account server (STARTTLS with a test CA, AUTH required).
    static func withAccountServer(
        allowPrivate: Bool = true, configure: @escaping (inout AppConfig) -> Void = { _ in },
        _ body: @Sendable (Harness, TestSMTPServer, TestSMTPServer) async throws -> Void
    ) async throws {
        // The secrets scan (ops/test) then looks for it in the database files and the logs.
        SecretLedger.record(password)
        let certificate = try await TestCertificate()
        defer { certificate.remove() }
        let account = try await TestSMTPServer(auth: "sales@acme.test:\(password)", tls: .starttls(certificate))
        let caFile = certificate.certPath
        try await Harness.withSMTP(
            lanes: 2,
            configure: {
                $0.allowPrivateMailHosts = allowPrivate
                $0.mailCAFile = caFile
                configure(&$0)
            }
        ) { h, relay in
            try await body(h, relay, account)
        }
    }

    static func smtpJSON(port: Int, password: String? = ConnectedAccountTests.password, host: String = "localhost") -> String {
        let pw = password.map { #", "password": "\#($0)""# } ?? ""
        return #"{"host": "\#(host)", "port": \#(port), "security": "starttls", "username": "sales@acme.test"\#(pw)}"#
    }

    @Test func anInboxWithItsOwnAccountSendsThroughItAndNeverShowsThePassword() async throws {
        try await Self.withAccountServer { h, relay, account in
            let own = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: account.port))"#)
            let plain = try await h.inbox()
            let got = try await h.call(.get, "/v1/inboxes/\(own)/")
            #expect(got["smtp"]?["host"]?.string == "localhost")
            #expect(got["smtp"]?["password_set"]?.bool == true)
            #expect(got["smtp"]?["password"] == nil)
            #expect(got["connection"]?["smtp_status"]?.string == "unknown")
            #expect(!got.body.contains(Self.password))
            let relayed = try await h.call(.get, "/v1/inboxes/\(plain)/")
            #expect(relayed["smtp"] == nil || relayed["smtp"] == .null)

            #expect(try await h.enrollAdHoc(inbox: own, email: "a-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            #expect(try await h.enrollAdHoc(inbox: plain, email: "b-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            _ = try await h.advance(seconds: 1)
            let viaAccount = try account.received()
            let viaRelay = try relay.received()
            #expect(viaAccount.count == 1)
            #expect(viaAccount.first?.tls == true, "the account's session is encrypted before AUTH")
            #expect(viaRelay.count == 1)
            #expect(viaRelay.first?.mailFrom != viaAccount.first?.mailFrom)
            let after = try await h.call(.get, "/v1/inboxes/\(own)/")
            #expect(after["connection"]?["smtp_status"]?.string == "ok")
            #expect(after["connection"]?["last_ok_at"]?.string != nil)
            // Nowhere in the events or the stored rows either.
            let events = try await h.call(.get, "/v1/events/?limit=200")
            #expect(!events.body.contains(Self.password))
        }
    }

    /// Two organizations, each inbox with its own account on its own server, and one inbox on the
    /// relay: every message leaves through its own organization's server, and neither organization
    /// reaches the other's inbox or account.
    @Test func twoOrganizationsSendThroughTheirOwnAccountsOnly() async throws {
        // One account's connections kept at a time: the other's are made again when needed.
        try await Self.withAccountServer(configure: { $0.accountTransportsKept = 1 }) { h, relay, account in
            let (other, certificate) = try await Self.secondServer(h, auth: "b@beta.test:other-secret-pass")
            defer { certificate.remove() }
            SecretLedger.record("other-secret-pass")
            let (_, adminB) = try await h.otherOrg()
            let a = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: account.port))"#)
            let createdB = try await h.call(
                .post, "/v1/inboxes/", token: adminB,
                #"{"address": "b-\#(Fixture.suffix())@beta.test", "timezone": "UTC", "smtp": {"host": "localhost", "port": \#(other.port), "security": "starttls", "username": "b@beta.test", "password": "other-secret-pass"}}"#
            )
            try #require(createdB.status == 201, "\(createdB.body)")
            let b = createdB.id
            let relayed = try await h.inbox()
            #expect(try await h.call(.get, "/v1/inboxes/\(a)/", token: adminB).status == 404)
            #expect(try await h.call(.post, "/v1/inboxes/\(a)/connection/verify/", token: adminB).status == 404)
            #expect(try await h.call(.patch, "/v1/inboxes/\(a)/", token: adminB, #"{"smtp": null}"#).status == 404)
            #expect(try await h.call(.get, "/v1/inboxes/\(b)/").status == 404)
            let toA = "a-\(Fixture.suffix())@example.com"
            let toB = "b-\(Fixture.suffix())@example.com"
            let toRelay = "r-\(Fixture.suffix())@example.com"
            #expect(try await h.enrollAdHoc(inbox: a, email: toA, steps: PacingTests.step()).status == 201)
            #expect(try await h.enrollAdHoc(inbox: b, email: toB, steps: PacingTests.step(), token: adminB).status == 201)
            #expect(try await h.enrollAdHoc(inbox: relayed, email: toRelay, steps: PacingTests.step()).status == 201)
            _ = try await h.advance(seconds: 1)
            #expect(try account.received().flatMap(\.rcptTos) == [toA])
            #expect(try other.received().flatMap(\.rcptTos) == [toB])
            #expect(try relay.received().flatMap(\.rcptTos) == [toRelay])
            #expect(h.services.accounts.keptCount == 1)
            // Both send again, each through its own server, whichever was dropped.
            let againA = "a2-\(Fixture.suffix())@example.com"
            let againB = "b2-\(Fixture.suffix())@example.com"
            #expect(try await h.enrollAdHoc(inbox: b, email: againB, steps: PacingTests.step(), token: adminB).status == 201)
            #expect(try await h.enrollAdHoc(inbox: a, email: againA, steps: PacingTests.step()).status == 201)
            _ = try await h.advance(seconds: 1)
            #expect(try account.received().flatMap(\.rcptTos) == [toA, againA])
            #expect(try other.received().flatMap(\.rcptTos) == [toB, againB])
            #expect(h.services.accounts.keptCount == 1)
        }
    }

    /// A second account server, trusted like the first (both PEMs in the operator's CA file).
    static func secondServer(_ h: Harness, auth: String) async throws -> (TestSMTPServer, TestCertificate) {
        let certificate = try await TestCertificate()
        let server = try await TestSMTPServer(auth: auth, tls: .starttls(certificate))
        let pems =
            try String(contentsOfFile: h.services.config.mailCAFile!, encoding: .utf8)
            + String(contentsOfFile: certificate.certPath, encoding: .utf8)
        try pems.write(toFile: h.services.config.mailCAFile!, atomically: true, encoding: .utf8)
        return (server, certificate)
    }

    /// One organization's account server takes 5 s per recipient. With the dispatcher running
    /// (two shared loops, one step per batch: before, each loop claimed one of the slow steps and
    /// waited on it), another organization's steps, through the relay and through its own
    /// account, are sent and recorded while the slow ones are still going.
    @Test func aSlowAccountServerDoesNotDelayAnotherOrganizationsSends() async throws {
        try await Self.withAccountServer(configure: {
            $0.dispatchBatchSize = 1
            $0.dispatchLoops = 2
            $0.accountDispatchLoops = 2
        }) { h, relay, slow in
            let (fast, certificate) = try await Self.secondServer(h, auth: "b@beta.test:other-secret-pass")
            defer { certificate.remove() }
            SecretLedger.record("other-secret-pass")
            let (_, adminB) = try await h.otherOrg()
            let slowInbox = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: slow.port))"#)
            let relayedA = try await h.inbox()
            var slowEnrollments: Set<String> = []
            for i in 0..<2 {
                let r = try await h.enrollAdHoc(inbox: slowInbox, email: "slow5+\(i)-\(Fixture.suffix())@example.com", steps: PacingTests.step())
                #expect(r.status == 201)
                slowEnrollments.insert(r.id)
            }
            let createdB = try await h.call(
                .post, "/v1/inboxes/", token: adminB,
                #"{"address": "b-\#(Fixture.suffix())@beta.test", "timezone": "UTC", "smtp": {"host": "localhost", "port": \#(fast.port), "security": "starttls", "username": "b@beta.test", "password": "other-secret-pass"}}"#
            )
            try #require(createdB.status == 201, "\(createdB.body)")
            let relayedB = try await h.call(
                .post, "/v1/inboxes/", token: adminB, #"{"address": "r-\#(Fixture.suffix())@beta.test", "timezone": "UTC"}"#)
            try #require(relayedB.status == 201, "\(relayedB.body)")
            let dispatcher = Task { try await Dispatcher(services: h.services).run() }
            defer { dispatcher.cancel() }
            // The slow server has the first steps in hand before the other organization enrolls.
            let started = ContinuousClock.now
            while try slow.connectionCount() == 0 && ContinuousClock.now - started < .seconds(10) { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(500))
            let toAccount = "b-\(Fixture.suffix())@example.com"
            let toRelay = "r-\(Fixture.suffix())@example.com"
            let enrolled = ContinuousClock.now
            #expect(try await h.enrollAdHoc(inbox: createdB.id, email: toAccount, steps: PacingTests.step(), token: adminB).status == 201)
            #expect(try await h.enrollAdHoc(inbox: relayedB.id, email: toRelay, steps: PacingTests.step(), token: adminB).status == 201)
            #expect(try await h.enrollAdHoc(inbox: relayedA, email: "a-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            var recorded = 0
            while recorded < 2 && ContinuousClock.now - enrolled < .seconds(20) {
                try await Task.sleep(for: .milliseconds(100))
                recorded = try await h.call(.get, "/v1/events/?type=message.sent&limit=100", token: adminB).data.count
            }
            let took = ContinuousClock.now - enrolled
            #expect(recorded == 2)
            #expect(try fast.received().flatMap(\.rcptTos) == [toAccount])
            #expect(Set(try relay.received().flatMap(\.rcptTos)).contains(toRelay))
            // Each slow recipient takes 5 s: the other organization's two were recorded within
            // the first of them.
            #expect(took < .seconds(4), "the other organization's steps took \(took)")
            #expect(try slow.received().isEmpty, "the slow account was still sending")
            // A reader of the first organization's feed passed its relayed step's event while the
            // slow batch was open: the slow batch's events still come after that cursor.
            var cursor: String?
            while cursor == nil && ContinuousClock.now - enrolled < .seconds(20) {
                let page = try await h.call(.get, "/v1/events/?type=message.sent&limit=100")
                if page.data.count == 1 { cursor = page.data.last?["id"]?.string } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            let passed = try #require(cursor)
            var later: [JSONValue] = []
            while later.count < 2 && ContinuousClock.now - enrolled < .seconds(30) {
                try await Task.sleep(for: .milliseconds(200))
                later = try await h.call(.get, "/v1/events/?type=message.sent&limit=100&after=\(passed)").data
            }
            #expect(Set(later.compactMap { $0["data"]?["enrollment_id"]?.string }) == slowEnrollments, "\(later)")
            dispatcher.cancel()
            _ = await dispatcher.result
        }
    }

    /// Running enrollments follow their inbox when its account is set or removed later: the
    /// account loops claim them, then the shared loops again.
    @Test func runningEnrollmentsFollowTheirInboxsAccount() async throws {
        try await Self.withAccountServer { h, relay, account in
            let inbox = try await h.inbox()
            let first = "f-\(Fixture.suffix())@example.com"
            let second = "s-\(Fixture.suffix())@example.com"
            #expect(try await h.enrollAdHoc(inbox: inbox, email: first, steps: PacingTests.step(days: 1)).status == 201)
            #expect(try await h.enrollAdHoc(inbox: inbox, email: second, steps: PacingTests.step(days: 2)).status == 201)
            let set = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"smtp": \#(Self.smtpJSON(port: account.port))}"#)
            #expect(set.status == 200, "\(set.body)")
            h.clock.advance(seconds: 86_400 + 60)
            let dispatcher = Dispatcher(services: h.services)
            #expect(try await dispatcher.runOnce(lane: .relay) == 0, "the shared loops leave it to the account loops")
            #expect(try await dispatcher.runAccount(Dispatcher.AccountQueue()) == 1)
            #expect(try account.received().flatMap(\.rcptTos) == [first])
            #expect(try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"smtp": null}"#).status == 200)
            h.clock.advance(seconds: 86_400)
            #expect(try await dispatcher.runAccount(Dispatcher.AccountQueue()) == 0)
            #expect(try await dispatcher.runOnce(lane: .relay) == 1)
            #expect(try relay.received().flatMap(\.rcptTos) == [second])
        }
    }

    /// The account loops share one poll per interval, serve an inbox one loop at a time, and an
    /// inbox whose batch was full takes its turn again behind the others.
    @Test func accountLoopsShareOnePollAndTakeTurns() async throws {
        let queue = Dispatcher.AccountQueue(pollInterval: .seconds(60))
        #expect(queue.take() == nil)
        #expect(queue.beginPoll() == [])
        #expect(queue.beginPoll() == nil, "one loop polls at a time")
        queue.endPoll([("o1", "a"), ("o2", "b")])
        #expect(queue.beginPoll() == nil, "and at most once an interval")
        let a = try #require(queue.take())
        #expect(a.id == "a")
        queue.release(a, more: true)
        #expect(queue.take()?.id == "b")
        let again = try #require(queue.take())
        #expect(again.id == "a", "a full batch queues the inbox again, behind the others")
        queue.release(again, more: false)
        #expect(queue.take() == nil)

        let soon = Dispatcher.AccountQueue()
        #expect(soon.beginPoll() == [])
        soon.endPoll([("o1", "a")])
        let served = try #require(soon.take())
        #expect(soon.beginPoll() == ["a"], "a poll leaves out what this process is serving")
        soon.endPoll([("o1", "a"), ("o2", "b")])
        #expect(soon.take()?.id == "b")
        soon.release(served, more: false)
    }

    @Test func verifyAnswersStepByStepAndAFailureIsOneEventPerEpisode() async throws {
        try await Self.withAccountServer { h, _, account in
            let inbox = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: account.port))"#)
            let ok = try await h.call(.post, "/v1/inboxes/\(inbox)/connection/verify/")
            #expect(ok.status == 200, "\(ok.body)")
            #expect(ok["smtp"]?["ok"]?.bool == true, "\(ok.body)")
            #expect((ok["smtp"]?["steps"]?.items ?? []).allSatisfy { $0["ok"]?.bool == true })
            let transcript = (ok["smtp"]?["transcript"]?.items ?? []).compactMap(\.string)
            #expect(transcript.contains { $0.hasPrefix("S: 220") })
            #expect(transcript.contains { $0.hasPrefix("C: STARTTLS") })
            #expect(transcript.contains { $0.hasPrefix("S: 235") })
            #expect(!ok.body.contains(Self.password))
            #expect(!ok.body.contains(Data(Self.password.utf8).base64EncodedString()))

            let patched = try await h.call(.patch, "/v1/inboxes/\(inbox)/", #"{"smtp": \#(Self.smtpJSON(port: account.port, password: "wrong"))}"#)
            #expect(patched.status == 200, "\(patched.body)")
            for _ in 0..<2 {
                let bad = try await h.call(.post, "/v1/inboxes/\(inbox)/connection/verify/")
                #expect(bad.status == 200)
                #expect(bad["smtp"]?["ok"]?.bool == false)
                #expect((bad["smtp"]?["steps"]?.items ?? []).first { $0["step"]?.string == "authenticate" }?["ok"]?.bool == false)
                #expect(bad["smtp"]?["error"]?.string?.isEmpty == false)
            }
            let status = try await h.call(.get, "/v1/inboxes/\(inbox)/")
            #expect(status["connection"]?["smtp_status"]?.string == "failing")
            let failed = try await h.events("inbox.connection_failed")
            #expect(failed.count == 1, "one event for one failure episode")
            #expect(failed.first?["data"]?["inbox_id"]?.string == inbox)
            // Without an account there is nothing to verify.
            let plain = try await h.inbox()
            #expect(try await h.call(.post, "/v1/inboxes/\(plain)/connection/verify/").errorParam == "smtp")
        }
    }

    @Test func badSettingsAre422sNamingTheField() async throws {
        try await Self.withAccountServer(allowPrivate: false) { h, _, account in
            func create(_ smtp: String) async throws -> Reply {
                try await h.call(
                    .post, "/v1/inboxes/", #"{"address": "x-\#(Fixture.suffix())@acme.test", "timezone": "UTC", "smtp": \#(smtp)}"#)
            }
            #expect(try await create(Self.smtpJSON(port: account.port, password: nil)).errorParam == "smtp.password")
            #expect(
                try await create(#"{"host": "mail.example.com", "security": "ssl", "username": "u", "password": "p"}"#).errorParam == "smtp.security")
            #expect(try await create(#"{"host": "bad host", "security": "tls", "username": "u", "password": "p"}"#).errorParam == "smtp.host")
            #expect(
                try await create(#"{"host": "a.example", "port": 70000, "security": "tls", "username": "u", "password": "p"}"#).errorParam
                    == "smtp.port")
            #expect(try await create(#"{"host": "a.example", "security": "tls", "username": "u", "password": "p", "x": 1}"#).errorParam == "smtp.x")
            // Loopback, private and metadata hosts need the operator's NUDGE_ALLOW_PRIVATE_MAIL_HOSTS.
            for host in ["localhost", "127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"] {
                let r = try await create(Self.smtpJSON(port: account.port, host: host))
                #expect(r.status == 422 && r.errorParam == "smtp.host", "\(host): \(r.body)")
            }
        }
    }

    /// A failing account holds only its own steps; once it answers again, its waiting steps follow
    /// one probe within seconds instead of each waiting out its own backoff.
    @Test func aFailingAccountHoldsOnlyItsOwnStepsAndResumesWithinSeconds() async throws {
        try await Self.withAccountServer { h, relay, account in
            let own = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: account.port))"#)
            let plain = try await h.inbox()
            try account.setDown(true)
            for i in 0..<6 {
                #expect(try await h.enrollAdHoc(inbox: own, email: "w\(i)-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            }
            #expect(try await h.enrollAdHoc(inbox: plain, email: "r-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            _ = try await h.advance(seconds: 1)
            #expect(try relay.received().count == 1, "the relay's step is not held by the failing account")
            #expect(try account.received().isEmpty)
            #expect(try await h.call(.get, "/v1/inboxes/\(own)/")["connection"]?["smtp_status"]?.string == "failing")
            try account.setDown(false)
            // Steps that failed wait a minute (their own backoff); the others follow the probe.
            var elapsed = 0.0
            while try account.received().count < 4 && elapsed < 30 {
                _ = try await h.advance(seconds: 6)
                elapsed += 6
            }
            #expect(try account.received().count >= 4, "most waiting steps went within \(elapsed) s of the server answering")
            #expect(elapsed <= 12)
            _ = try await h.advance(seconds: 120)
            let all = try account.received()
            #expect(all.count == 6)
            #expect(Set(all.flatMap(\.rcptTos)).count == 6, "each step once")
            #expect(try await h.call(.get, "/v1/inboxes/\(own)/")["connection"]?["smtp_status"]?.string == "ok")
        }
    }

    /// `nudge secret rotate`: passwords sealed by the previous secret are re-sealed under the new
    /// one; a second run has nothing left to do.
    @Test func rotationResealsUnderTheNewSecret() async throws {
        try await Self.withAccountServer { h, _, account in
            let inbox = try await h.inbox(extra: #", "smtp": \#(Self.smtpJSON(port: account.port))"#)
            var config = h.services.config
            config.secret = Array("the-next-secret-0123456789-abcdefghijklmnop".utf8)
            let next = try NudgeServices(config: config, postgres: h.services.db.client, clock: h.clock, logger: h.services.logger)
            let before = try #require(try await h.services.inboxes.account(org: h.org, id: inbox) ?? nil)
            #expect((try? next.mailCredentials.open(before.sealedPassword, org: h.org, inboxID: inbox)) == nil)
            let report = try await SecretRotation(services: next).run(previous: h.services.config.secret)
            #expect(report.resealed == 1)
            #expect(report.unopenable.isEmpty)
            let after = try #require(try await h.services.inboxes.account(org: h.org, id: inbox) ?? nil)
            #expect(try next.mailCredentials.open(after.sealedPassword, org: h.org, inboxID: inbox) == Self.password)
            let again = try await SecretRotation(services: next).run(previous: h.services.config.secret)
            #expect(again.resealed == 0 && again.alreadyCurrent == 1)
        }
    }
}
