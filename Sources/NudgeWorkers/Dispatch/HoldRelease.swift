import Foundation
import Logging
import NudgeCore
import NudgeStore
import ServiceLifecycle

/// Ends out-of-office holds whose time is over, announcing each once (`enrollment.resumed`).
/// The step itself becomes due by its own `next_due_at` (the hold's end plus the kept remaining
/// wait), which the dispatcher's claim honours only once the hold is cleared here.
package struct HoldRelease: Service {
    package let services: NudgeServices
    package static let batchSize = 200

    package init(services: NudgeServices) { self.services = services }

    /// Releases every hold over by now, in batches; returns how many.
    package func releaseDue() async throws -> Int {
        var total = 0
        while true {
            let now = services.clock.now()
            let ended = try await services.db.system { [logger = services.logger] conn in
                try await EnrollmentStore.releaseHolds(now: now, limit: Self.batchSize, conn, logger: logger)
            }
            total += ended.count
            if ended.count < Self.batchSize { return total }
        }
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                _ = try await releaseDue()
            } catch {
                services.logger.warning("releasing out-of-office holds failed", metadata: ["error": "\(error)"])
            }
            try? await gracefulShutdownOrSleep(.seconds(5))
        }
    }
}
