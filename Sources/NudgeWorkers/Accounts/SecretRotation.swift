import Foundation
import NudgeSMTP
import NudgeStore

/// `nudge secret rotate`: after `NUDGE_SECRET` changed, re-seals every stored mail password and
/// DKIM key that the previous secret sealed (named by its key id) under the current one. Idempotent: what the
/// current secret sealed already is left alone, so a rotation interrupted halfway is run again.
package struct SecretRotation: Sendable {
    package let services: NudgeServices

    package init(services: NudgeServices) { self.services = services }

    package struct Report: Sendable {
        package var resealed = 0
        package var alreadyCurrent = 0
        /// Sealed by neither secret (inbox or domain ids): they must be set again through the API.
        package var unopenable: [String] = []
    }

    package func run(previous: [UInt8]) async throws -> Report {
        let old = MailCredentials(secret: previous)
        let current = services.mailCredentials
        var report = Report()
        for (org, id, service, sealed, keyID) in try await InboxStore.sealedPasswords(db: services.db) {
            if keyID == current.keyID, (try? current.open(sealed, org: org, inboxID: id, service: service)) != nil {
                report.alreadyCurrent += 1
                continue
            }
            guard let password = try? old.open(sealed, org: org, inboxID: id, service: service) else {
                report.unopenable.append(id)
                continue
            }
            let fresh = try current.seal(password, org: org, inboxID: id, service: service)
            if try await InboxStore.reseal(
                org: org, id: id, service: service, from: sealed, to: fresh, keyID: current.keyID, db: services.db)
            {
                report.resealed += 1
            }
        }
        for k in try await DomainStore.allKeys(db: services.db) {
            let ed = DKIMAlgorithm.ed25519SHA256.rawValue
            let rsa = DKIMAlgorithm.rsaSHA256.rawValue
            if k.keyID == current.keyID, (try? current.open(key: k.sealedEd25519, org: k.org, domainID: k.id, algorithm: ed)) != nil {
                report.alreadyCurrent += 1
                continue
            }
            guard let edKey = try? old.open(key: k.sealedEd25519, org: k.org, domainID: k.id, algorithm: ed),
                let rsaKey = try? old.open(key: k.sealedRSA, org: k.org, domainID: k.id, algorithm: rsa)
            else {
                report.unopenable.append(k.id)
                continue
            }
            if try await DomainStore.reseal(
                k, ed25519: try current.seal(key: edKey, org: k.org, domainID: k.id, algorithm: ed),
                rsa: try current.seal(key: rsaKey, org: k.org, domainID: k.id, algorithm: rsa), keyID: current.keyID, db: services.db)
            {
                report.resealed += 1
            }
        }
        return report
    }
}
