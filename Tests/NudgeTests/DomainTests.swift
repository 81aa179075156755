import Foundation
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeTestSupport
import NudgeWorkers
import Testing

/// Sending domains (README, "Connected mailboxes"): DKIM keys, verification through a real DNS
/// server (dnsmasq on loopback), the ownership rule for inboxes, and signatures dkimpy verifies.
// One at a time: each test starts its own mail servers, and the whole suite shares two cores.
@Suite(.serialized) struct DomainTests {
    /// A server that allows only verified (or operator-allowed) domains, with `dns` as its resolver.
    static func withDomains(_ dns: TestDNSServer?, _ body: @Sendable (Harness, TestSMTPServer) async throws -> Void) async throws {
        let server = dns.map { DNSServerAddress(host: "127.0.0.1", port: UInt16($0.port)) }
        try await Harness.withSMTP(configure: {
            $0.dev = false
            $0.allowAnySenderDomain = false
            $0.dnsServer = server
        }) { h, smtp in try await body(h, smtp) }
    }

    /// The clock endpoint is a --dev route: without --dev the test moves the clock itself.
    static func advance(_ h: Harness, _ seconds: Double) async throws {
        h.clock.advance(seconds: seconds)
        try await h.services.drainWork()
    }

    /// name → value of the answer's DKIM records, as they are to be published.
    static func records(_ answer: Reply) -> [String: String] {
        var out: [String: String] = [:]
        for r in answer["dkim_records"]?.items ?? [] {
            if let name = r["name"]?.string, let value = r["value"]?.string { out[name] = value }
        }
        return out
    }

    @Test func aDomainAnswersItsRecordsAndBadInputIsA422() async throws {
        try await Self.withDomains(nil) { h, _ in
            let r = try await h.call(.post, "/v1/domains/", #"{"domain": "Acme-Mail.test.", "selector": "s2026"}"#)
            #expect(r.status == 201, "\(r.body)")
            #expect(r["domain"]?.string == "acme-mail.test")
            #expect(r["status"]?.string == "pending")
            let records = Self.records(r)
            #expect(records["s2026-ed._domainkey.acme-mail.test"]?.hasPrefix("v=DKIM1; k=ed25519; p=") == true)
            #expect(records["s2026-rsa._domainkey.acme-mail.test"]?.hasPrefix("v=DKIM1; k=rsa; p=") == true)
            #expect(r["dmarc"]?["name"]?.string == "_dmarc.acme-mail.test")
            #expect(r["spf"]?["value"]?.string?.hasPrefix("v=spf1") == true)
            #expect(!r.body.contains("PRIVATE"))
            #expect(try await h.call(.post, "/v1/domains/", #"{"domain": "acme-mail.test"}"#).status == 409)
            #expect(try await h.call(.post, "/v1/domains/", #"{}"#).errorParam == "domain")
            #expect(try await h.call(.post, "/v1/domains/", #"{"domain": "localhost"}"#).errorParam == "domain")
            #expect(try await h.call(.post, "/v1/domains/", #"{"domain": "a.test", "selector": "bad_selector"}"#).errorParam == "selector")
            // Without a DNS server to ask, verify says so instead of guessing.
            #expect(try await h.call(.post, "/v1/domains/\(r.id)/verify/").status == 503)
            let list = try await h.call(.get, "/v1/domains/")
            #expect(list.data.map { $0["id"]?.string } == [r.id])
            // Another organization sees nothing of it.
            let other = try await h.otherOrg()
            #expect(try await h.call(.get, "/v1/domains/\(r.id)/", token: other.admin).status == 404)
            #expect(try await h.call(.delete, "/v1/domains/\(r.id)/", token: other.admin).status == 404)
            #expect(try await h.call(.delete, "/v1/domains/\(r.id)/").status == 200)
            #expect(try await h.call(.get, "/v1/domains/\(r.id)/").status == 404)
        }
    }

    /// Each domain costs an RSA key: an organization has at most 100, checked before any key is
    /// made; another organization is not affected.
    @Test func anOrganizationsDomainsAreCapped() async throws {
        try await Self.withDomains(nil) { h, _ in
            let first = try await h.call(.post, "/v1/domains/", #"{"domain": "cap-0.test"}"#)
            try #require(first.status == 201, "\(first.body)")
            try await h.services.db.system { conn in
                try await conn.query(
                    """
                    INSERT INTO domains (org_id, id, domain, selector, ed25519_key, rsa_key, ed25519_record, rsa_record, secret_key_id,
                      created_at, updated_at)
                    SELECT org_id, id || '_' || i, 'cap-' || i || '.test', selector, ed25519_key, rsa_key, ed25519_record, rsa_record,
                      secret_key_id, created_at, updated_at
                    FROM domains, generate_series(1, \(SendingDomains.maxPerOrganization - 1)) AS i WHERE org_id = \(h.org) AND id = \(first.id)
                    """, logger: h.services.db.logger)
            }
            let over = try await h.call(.post, "/v1/domains/", #"{"domain": "one-more.test"}"#)
            #expect(over.status == 422, "\(over.body)")
            #expect(over.errorParam == "domain")
            #expect(try await h.call(.post, "/v1/domains/", #"{"domain": "cap-7.test"}"#).status == 409)
            let other = try await h.otherOrg()
            #expect(try await h.call(.post, "/v1/domains/", token: other.admin, #"{"domain": "one-more.test"}"#).status == 201)
            #expect(try await h.call(.delete, "/v1/domains/\(first.id)/").status == 200)
            #expect(try await h.call(.post, "/v1/domains/", #"{"domain": "one-more.test"}"#).status == 201)
        }
    }

    /// The whole path: refused before verification; verified once DNS publishes both keys; then
    /// inboxes on the domain send mail that dkimpy verifies with both keys, and a tampered copy fails.
    @Test func aVerifiedDomainAllowsInboxesAndSignsTheirMail() async throws {
        let dns = try await TestDNSServer()
        try await Self.withDomains(dns) { h, smtp in
            let d = try await h.call(.post, "/v1/domains/", #"{"domain": "signed.test"}"#)
            try #require(d.status == 201, "\(d.body)")
            let refused = try await h.call(.post, "/v1/inboxes/", #"{"address": "sales@signed.test", "timezone": "UTC"}"#)
            #expect(refused.errorParam == "address", "\(refused.body)")
            let unpublished = try await h.call(.post, "/v1/domains/\(d.id)/verify/")
            #expect(unpublished["domain"]?["status"]?.string == "pending")
            #expect((unpublished["checks"]?.items ?? []).allSatisfy { $0["found"]?.bool == false })

            try await dns.publish(Self.records(d))
            let verified = try await h.call(.post, "/v1/domains/\(d.id)/verify/")
            #expect(verified["domain"]?["status"]?.string == "verified", "\(verified.body)")
            #expect(try await h.events("domain.verified").count == 1)
            let inbox = try await h.inbox("sales@signed.test")
            #expect(try await h.enrollAdHoc(inbox: inbox, email: "buyer-\(Fixture.suffix())@example.com", steps: PacingTests.step()).status == 201)
            try await Self.advance(h, 1)
            let sent = try #require(try smtp.received().first)
            let outcomes = try await DKIMVerifier.verify(message: sent.raw, records: Self.records(d))
            #expect(outcomes.count == 2)
            #expect(outcomes.allSatisfy { $0.ok }, "\(outcomes)")
            let headers = String(decoding: sent.raw.prefix(4_000), as: UTF8.self).lowercased()
            #expect(headers.contains("a=ed25519-sha256") && headers.contains("a=rsa-sha256"))
            #expect(headers.contains("list-unsubscribe-post"), "the one-click headers are signed (RFC 8058)")
            var tampered = sent.raw
            tampered.append(contentsOf: Array("tampered\r\n".utf8))
            #expect(try await DKIMVerifier.verify(message: tampered, records: Self.records(d)).allSatisfy { !$0.ok })
        }
    }

    /// The periodic check: records removed make a verified domain `failing`, with one event per
    /// episode; published again, it is verified again. Signing goes on meanwhile.
    @Test func thePeriodicCheckFollowsTheRecords() async throws {
        let dns = try await TestDNSServer()
        try await Self.withDomains(dns) { h, _ in
            let d = try await h.call(.post, "/v1/domains/", #"{"domain": "checked.test"}"#)
            try await dns.publish(Self.records(d))
            try await Self.advance(h, 1)
            #expect(try await h.call(.get, "/v1/domains/\(d.id)/")["status"]?.string == "verified", "publishing is enough")
            try await dns.publish([:])
            try await Self.advance(h, 3_601)
            let failing = try await h.call(.get, "/v1/domains/\(d.id)/")
            #expect(failing["status"]?.string == "failing")
            #expect(failing["last_error"]?.string?.contains("_domainkey.checked.test") == true)
            try await Self.advance(h, 3_601)
            #expect(try await h.events("domain.verification_failed").count == 1, "one event per failure episode")
            try await dns.publish(Self.records(d))
            try await Self.advance(h, 3_601)
            #expect(try await h.call(.get, "/v1/domains/\(d.id)/")["status"]?.string == "verified")
            #expect(try await h.events("domain.verified").count == 2)
        }
    }

    @Test func rotationResealsDomainKeys() async throws {
        try await Self.withDomains(nil) { h, _ in
            let d = try await h.call(.post, "/v1/domains/", #"{"domain": "rotated.test"}"#)
            try #require(d.status == 201)
            var config = h.services.config
            config.secret = Array("the-next-secret-0123456789-abcdefghijklmnop".utf8)
            let next = try NudgeServices(config: config, postgres: h.services.db.client, clock: h.clock, logger: h.services.logger)
            let report = try await SecretRotation(services: next).run(previous: h.services.config.secret)
            #expect(report.resealed == 1 && report.unopenable.isEmpty)
            let keys = try #require(try await DomainStore.allKeys(db: next.db).first { $0.id == d.id })
            #expect(keys.keyID == next.mailCredentials.keyID)
            #expect(
                (try? next.mailCredentials.open(key: keys.sealedRSA, org: h.org, domainID: d.id, algorithm: DKIMAlgorithm.rsaSHA256.rawValue)) != nil)
        }
    }
}
