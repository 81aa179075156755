import Foundation
import Hummingbird
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeWorkers

/// `/v1/domains`: an organization's sending domains, their DKIM records and their verification
/// through DNS (README, "Connected mailboxes"). Inbox scopes: a domain is part of setting up inboxes.
package struct DomainsAPI {
    package let services: NudgeServices

    package struct CreateBody: Decodable {
        package let domain: String?
        package let selector: String?
    }

    /// A domain with what to publish: its two DKIM records, and SPF and DMARC guidance.
    package struct Answer: Encodable {
        package struct Record: Encodable {
            package let type = "TXT"
            package let name: String
            package let value: String
        }
        package let id: String
        package let domain: String
        package let selector: String
        package let status: String
        package let dkim_records: [Record]
        package let spf: SendingDomains.Guidance
        package let dmarc: SendingDomains.Guidance
        package let verified_at: Date?
        package let checked_at: Date?
        package let last_error: String?
        package let created_at: Date
        package let updated_at: Date

        init(_ d: DomainRecord) {
            let (ed, rsa) = SendingDomains.selectors(d.selector)
            (id, domain, selector, status) = (d.id, d.domain, d.selector, d.status)
            dkim_records = [
                Record(name: SendingDomains.recordName(ed, d.domain), value: d.ed25519_record),
                Record(name: SendingDomains.recordName(rsa, d.domain), value: d.rsa_record),
            ]
            (spf, dmarc) = SendingDomains.guidance(d.domain)
            (verified_at, checked_at, last_error, created_at, updated_at) = (d.verified_at, d.checked_at, d.last_error, d.created_at, d.updated_at)
        }
    }

    package struct VerifyAnswer: Encodable {
        package let domain: Answer
        package let checks: [DomainVerifier.Check]
    }

    package func register(_ r: ScopedRouter) {
        let store = services.domains
        r.post("/v1/domains", .inboxesWrite) { req, ctx in
            let b = try await JSONCoding.decode(CreateBody.self, from: req)
            let domain = try SendingDomains.validDomain(b.domain)
            let selector = try SendingDomains.validSelector(b.selector)
            // Checked before the keys are made: an RSA key costs a core tens of milliseconds.
            let (count, exists) = try await store.census(org: ctx.org, domain: domain)
            if exists { throw DomainStore.duplicate(domain) }
            guard count < SendingDomains.maxPerOrganization else {
                throw NudgeError.validation(
                    "domain", "domain: an organization has at most \(SendingDomains.maxPerOrganization) sending domains; delete one first.")
            }
            let new = try await SendingDomains.create(org: ctx.org, domain: domain, selector: selector, credentials: services.mailCredentials)
            let created = try await store.create(org: ctx.org, new, now: services.clock.now())
            return try JSONCoding.response(Answer(created), status: .created)
        }
        r.get("/v1/domains", .inboxesRead) { req, ctx in
            let page = try await store.list(org: ctx.org, page: PageRequest(req))
            return try JSONCoding.response(page.map(Answer.init))
        }
        r.get("/v1/domains/:id", .inboxesRead) { _, ctx in
            guard let d = try await store.get(org: ctx.org, id: try ctx.id("id", .dom, what: "domain")) else { throw NudgeError.notFound("domain") }
            return try JSONCoding.response(Answer(d))
        }
        r.delete("/v1/domains/:id", .inboxesWrite) { _, ctx in
            guard let d = try await store.delete(org: ctx.org, id: try ctx.id("id", .dom, what: "domain")) else {
                throw NudgeError.notFound("domain")
            }
            services.domainSigners.invalidate(org: ctx.org)
            return try JSONCoding.response(Answer(d))
        }
        r.post("/v1/domains/:id/verify", .inboxesWrite) { _, ctx in
            let id = try ctx.id("id", .dom, what: "domain")
            guard let d = try await store.get(org: ctx.org, id: id) else { throw NudgeError.notFound("domain") }
            guard let server = services.config.dnsServer else {
                throw NudgeError(.unavailable, "This server has no DNS server to check domains with (NUDGE_DNS_SERVER).")
            }
            let checks = await DomainVerifier(server: server).check(d)
            let missing = checks.filter { !$0.found }
            guard
                let after = try await store.recordCheck(
                    org: ctx.org, id: id, found: missing.isEmpty, error: missing.map { "\($0.name): \($0.detail)" }.joined(separator: "; "),
                    now: services.clock.now())
            else { throw NudgeError.notFound("domain") }
            services.domainSigners.invalidate(org: ctx.org)
            return try JSONCoding.response(VerifyAnswer(domain: Answer(after), checks: checks))
        }
    }

    package init(services: NudgeServices) { self.services = services }
}
