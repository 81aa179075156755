import Foundation
import Logging
import NudgeCore
import NudgeSMTP
import NudgeStore
import Synchronization

/// Sending domains (README, "Connected mailboxes"): DKIM keys made for a domain, the DNS records
/// that prove the organization controls it, and the signers the dispatcher uses.
package enum SendingDomains {
    /// The two selectors a domain publishes: one per key, so either can be replaced alone.
    package static func selectors(_ selector: String) -> (ed25519: String, rsa: String) { ("\(selector)-ed", "\(selector)-rsa") }

    package static func recordName(_ selector: String, _ domain: String) -> String { "\(selector)._domainkey.\(domain)" }

    /// Sending domains per organization.
    package static let maxPerOrganization = 100

    /// Key generation runs one at a time, off the cooperative pool: an RSA-2048 key takes a core
    /// for tens to hundreds of milliseconds, and requests side by side must not take every
    /// thread that serves the API.
    private static let keyMaker = DispatchQueue(label: "nudge.dkim-keys")

    /// New keys for `domain`, sealed for the organization.
    package static func create(
        org: String, domain: String, selector: String, credentials: MailCredentials
    ) async throws -> DomainStore.NewDomain {
        let id = ID.make(.dom)
        let ed = DKIMPrivateKey.generateEd25519()
        let rsa = try await withCheckedThrowingContinuation { (c: CheckedContinuation<DKIMPrivateKey, any Error>) in
            keyMaker.async { c.resume(with: Result { try DKIMPrivateKey.generateRSA2048() }) }
        }
        return DomainStore.NewDomain(
            id: id, domain: domain, selector: selector,
            sealedEd25519: try credentials.seal(key: ed.exportedBytes, org: org, domainID: id, algorithm: ed.algorithm.rawValue),
            sealedRSA: try credentials.seal(key: rsa.exportedBytes, org: org, domainID: id, algorithm: rsa.algorithm.rawValue),
            keyID: credentials.keyID, ed25519Record: ed.dnsTXTRecordValue, rsaRecord: rsa.dnsTXTRecordValue)
    }

    /// A domain name an organization may add: lower-case DNS labels with at least one dot.
    package static func validDomain(_ raw: String?) throws -> String {
        guard let raw else { throw NudgeError.validation("domain", "domain is required, such as acme.com.") }
        let d = raw.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        guard d.contains("."), case .success = Mailbox.validate("x@\(d)"), d.utf8.count <= 200 else {
            throw NudgeError.validation("domain", "domain must be a domain name such as acme.com (ASCII; an internationalised one in its xn-- form).")
        }
        return d
    }

    /// 1 to 40 lower-case letters, digits and hyphens (a DNS label, with room for `-rsa`).
    package static func validSelector(_ raw: String?) throws -> String {
        guard let raw else { return "nudge" }
        let s = raw.lowercased()
        guard (1...40).contains(s.utf8.count), s.first != "-", s.last != "-",
            s.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw NudgeError.validation("selector", "selector must be 1 to 40 letters, digits or hyphens, such as nudge or s2026.") }
        return s
    }

    /// What a domain needs besides its DKIM records, for DMARC to pass: DKIM aligns by itself (the
    /// signature's d= is the From domain); SPF is the sending servers' own matter.
    package struct Guidance: Encodable, Sendable {
        package let name: String
        package let type = "TXT"
        package let value: String
        package let note: String
    }

    package static func guidance(_ domain: String) -> (spf: Guidance, dmarc: Guidance) {
        (
            Guidance(
                name: domain, value: "v=spf1 include:<your mail provider's SPF domain> ~all",
                note:
                    "List every server that sends for this domain: the provider of the inboxes' own SMTP accounts, or the operator's relay. One SPF record per domain; merge with an existing one."
            ),
            Guidance(
                name: "_dmarc.\(domain)", value: "v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:dmarc-reports@\(domain)",
                note:
                    "Nudge's DKIM signatures use d=\(domain), so DMARC passes through DKIM alignment; start with p=none, then quarantine or reject once the reports are clean."
            )
        )
    }
}

/// Checks a domain's published records through the configured DNS server (`NUDGE_DNS_SERVER`).
package struct DomainVerifier: Sendable {
    package let resolver: DNSTXTResolver

    package init(server: DNSServerAddress) { resolver = DNSTXTResolver(server: server) }

    package struct Check: Encodable, Sendable {
        package let name: String
        package let found: Bool
        package let detail: String
    }

    /// Each key's record, and whether it publishes the key Nudge signs with.
    package func check(_ d: DomainRecord) async -> [Check] {
        let (ed, rsa) = SendingDomains.selectors(d.selector)
        var out: [Check] = []
        for (selector, expected) in [(ed, d.ed25519_record), (rsa, d.rsa_record)] {
            let name = SendingDomains.recordName(selector, d.domain)
            do {
                let records = try await resolver.lookupTXT(name).map(\.text)
                let want = Self.tags(expected)
                if records.contains(where: { Self.tags($0)["p"] == want["p"] && Self.tags($0)["k"] == want["k"] }) {
                    out.append(Check(name: name, found: true, detail: "published"))
                } else {
                    out.append(Check(name: name, found: false, detail: "a TXT record is there, but not with this key (p=)"))
                }
            } catch {
                out.append(Check(name: name, found: false, detail: Self.describe(error)))
            }
        }
        return out
    }

    /// A DKIM record's tags (`k`, `p`, ...), values without whitespace (RFC 6376 3.6.1).
    static func tags(_ record: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in record.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[kv[0].trimmingCharacters(in: .whitespaces).lowercased()] = kv[1].filter { !$0.isWhitespace }
        }
        return out
    }

    static func describe(_ error: DNSLookupError) -> String {
        switch error {
        case .nxdomain: return "no such name in DNS"
        case .noRecords: return "no TXT record at this name"
        case .timeout: return "the DNS server did not answer"
        case .serverFailure(let code): return "the DNS server failed (rcode \(code))"
        case .connectionRefused: return "the DNS server refused the connection"
        default: return "DNS lookup failed: \(error)"
        }
    }
}

/// The DKIM signers of the organizations' verified domains, loaded per organization at most once
/// a minute: the dispatcher asks once per batch, and an organization without domains costs one
/// small query a minute.
package final class DomainSigners: Sendable {
    private struct Entry: Sendable {
        let loaded: ContinuousClock.Instant
        let byDomain: [String: DKIMSigner]
    }

    private let credentials: MailCredentials
    private let cache = Mutex<[String: Entry]>([:])
    private let ttl: Duration

    package init(credentials: MailCredentials, ttl: Duration = .seconds(60)) {
        self.credentials = credentials
        self.ttl = ttl
    }

    /// Forgets an organization's signers (its domains changed in this process).
    package func invalidate(org: String) { _ = cache.withLock { $0.removeValue(forKey: org) } }

    package func signers(orgs: Set<String>, db: Database, logger: Logger) async throws -> [String: [String: DKIMSigner]] {
        let now = ContinuousClock.now
        var out: [String: [String: DKIMSigner]] = [:]
        var stale: [String] = []
        cache.withLock { c in
            for org in orgs {
                if let e = c[org], now - e.loaded < ttl { out[org] = e.byDomain } else { stale.append(org) }
            }
        }
        guard !stale.isEmpty else { return out }
        var loaded: [String: [String: DKIMSigner]] = Dictionary(uniqueKeysWithValues: stale.map { ($0, [:]) })
        for k in try await DomainStore.signingKeys(orgs: stale, db: db) {
            do {
                let (edSel, rsaSel) = SendingDomains.selectors(k.selector)
                let ed = try DKIMPrivateKey(
                    algorithm: .ed25519SHA256,
                    exportedBytes: try credentials.open(
                        key: k.sealedEd25519, org: k.org, domainID: k.id, algorithm: DKIMAlgorithm.ed25519SHA256.rawValue))
                let rsa = try DKIMPrivateKey(
                    algorithm: .rsaSHA256,
                    exportedBytes: try credentials.open(key: k.sealedRSA, org: k.org, domainID: k.id, algorithm: DKIMAlgorithm.rsaSHA256.rawValue))
                loaded[k.org, default: [:]][k.domain] = DKIMSigner(
                    domain: k.domain, keys: [DKIMSigningKey(selector: edSel, key: ed), DKIMSigningKey(selector: rsaSel, key: rsa)])
            } catch {
                logger.error(
                    "a domain's DKIM keys do not open with this server's NUDGE_SECRET; its mail goes unsigned",
                    metadata: ["domain": "\(k.domain)", "org": "\(k.org)"])
            }
        }
        cache.withLock { c in
            for (org, signers) in loaded { c[org] = Entry(loaded: now, byDomain: signers) }
        }
        out.merge(loaded) { a, _ in a }
        return out
    }
}
