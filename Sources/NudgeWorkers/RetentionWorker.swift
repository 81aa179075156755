import Foundation
import Logging
import Metrics
import NudgeCore
import NudgeStore
import ServiceLifecycle

/// Applies each organization's retention policy: old events, message bodies and LLM call logs
/// go, in batches of `batch` rows, each batch its own short transaction (no long locks, nothing a
/// request waits behind).
package struct RetentionWorker: Service {
    package let services: NudgeServices
    package var batch = 500
    package var interval: Duration = .seconds(600)

    package init(services: NudgeServices) { self.services = services }

    /// What one pass removed.
    package struct Removed: Sendable, Equatable {
        package var events = 0
        package var bodies = 0
        package var llmCalls = 0
        package var webhookDeliveries = 0
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { _ = try await runOnce() } catch { services.logger.warning("retention pass failed", metadata: ["error": "\(error)"]) }
            try? await gracefulShutdownOrSleep(interval)
        }
    }

    @discardableResult
    package func runOnce() async throws -> Removed {
        let now = services.clock.now()
        let db = services.db
        var removed = Removed()
        for (org, policy) in try await services.tokens.retentionPolicies() {
            let day: TimeInterval = 86_400
            removed.events += try await drain { limit in
                try await db.system { conn in
                    try await Events.purge(
                        org: org, before: now.addingTimeInterval(-Double(policy.eventsDays) * day), limit: limit, conn, logger: db.logger)
                }
            }
            removed.webhookDeliveries += try await drain { limit in
                try await db.system { conn in
                    try await WebhookStore.purge(
                        org: org, before: now.addingTimeInterval(-Double(policy.eventsDays) * day), limit: limit, conn, logger: db.logger)
                }
            }
            removed.bodies += try await drain { limit in
                try await db.system { conn in
                    try await HistoryStore.purgeBodies(
                        org: org, before: now.addingTimeInterval(-Double(policy.bodiesDays) * day), now: now, limit: limit, conn, logger: db.logger)
                }
            }
            removed.llmCalls += try await drain { limit in
                try await db.system { conn in
                    try await LLMCallStore.purge(
                        org: org, before: now.addingTimeInterval(-Double(policy.llmCallsDays) * day), limit: limit, conn, logger: db.logger)
                }
            }
        }
        Counter(label: "nudge_retention_removed_total", dimensions: [("kind", "events")]).increment(by: removed.events)
        Counter(label: "nudge_retention_removed_total", dimensions: [("kind", "bodies")]).increment(by: removed.bodies)
        Counter(label: "nudge_retention_removed_total", dimensions: [("kind", "llm_calls")]).increment(by: removed.llmCalls)
        Counter(label: "nudge_retention_removed_total", dimensions: [("kind", "webhook_deliveries")]).increment(by: removed.webhookDeliveries)
        return removed
    }

    /// Runs `pass` until a batch comes back short.
    private func drain(_ pass: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let n = try await pass(batch)
            total += n
            if n < batch { break }
        }
        return total
    }
}
