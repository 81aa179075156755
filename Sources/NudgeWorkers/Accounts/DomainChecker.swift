import Foundation
import Logging
import NudgeCore
import NudgeSMTP
import NudgeStore
import ServiceLifecycle

/// Checks every sending domain's DKIM records again every `AppConfig.domainCheckInterval`
/// (pending ones too, so publishing the records is enough): a verified domain whose records are
/// gone becomes `failing` (`domain.verification_failed`), and one found again `verified`.
package struct DomainChecker: Service {
    package let services: NudgeServices

    package init(services: NudgeServices) { self.services = services }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                while try await checkDue() > 0 {}
            } catch {
                services.logger.warning("domain check failed", metadata: ["error": "\(error)"])
            }
            try? await gracefulShutdownOrSleep(.seconds(60))
        }
    }

    /// Checks up to 20 due domains; returns how many.
    @discardableResult
    package func checkDue() async throws -> Int {
        guard let server = services.config.dnsServer else { return 0 }
        let now = services.clock.now()
        let due = try await DomainStore.dueForCheck(
            before: now.addingTimeInterval(-services.config.domainCheckInterval), now: now, limit: 20, db: services.db)
        let verifier = DomainVerifier(server: server)
        for (org, domain) in due {
            let checks = await verifier.check(domain)
            let missing = checks.filter { !$0.found }
            _ = try await services.domains.recordCheck(
                org: org, id: domain.id, found: missing.isEmpty, error: missing.map { "\($0.name): \($0.detail)" }.joined(separator: "; "),
                now: now)
            services.domainSigners.invalidate(org: org)
        }
        return due.count
    }
}
