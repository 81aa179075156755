import Foundation
import NudgeStore

/// `nudge secret rotate`: after `NUDGE_SECRET` changed, re-seals every stored mail password that
/// the previous secret sealed (named by its key id) under the current one. Idempotent: what the
/// current secret sealed already is left alone, so a rotation interrupted halfway is run again.
package struct SecretRotation: Sendable {
    package let services: NudgeServices

    package init(services: NudgeServices) { self.services = services }

    package struct Report: Sendable {
        package var resealed = 0
        package var alreadyCurrent = 0
        /// Sealed by neither secret: they must be set again through the API.
        package var unopenable: [String] = []
    }

    package func run(previous: [UInt8]) async throws -> Report {
        let old = MailCredentials(secret: previous)
        let current = services.mailCredentials
        var report = Report()
        for (org, id, sealed, keyID) in try await InboxStore.sealedPasswords(db: services.db) {
            if keyID == current.keyID, (try? current.open(sealed, org: org, inboxID: id)) != nil {
                report.alreadyCurrent += 1
                continue
            }
            guard let password = try? old.open(sealed, org: org, inboxID: id) else {
                report.unopenable.append(id)
                continue
            }
            let fresh = try current.seal(password, org: org, inboxID: id)
            if try await InboxStore.reseal(org: org, id: id, from: sealed, to: fresh, keyID: current.keyID, db: services.db) {
                report.resealed += 1
            }
        }
        return report
    }
}
