import Foundation
import Logging
import NudgeCore
import NudgeStore
import ServiceLifecycle

/// Periodic upkeep: writes tokens' `last_used_at`, forgets idempotency keys after 24 h, moves
/// statistics' deltas into their counters.
package struct Housekeeping: Service {
    package let services: NudgeServices

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await services.authenticator.flushUsage()
                try await IdempotencyStore(db: services.db).purge(now: services.clock.now())
                // Statistics' deltas into their counters, so reading them stays a few rows.
                while try await SequenceStatsStore(db: services.db).compact() {}
            } catch {
                services.logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
            }
            try? await gracefulShutdownOrSleep(.seconds(15))
        }
        // Keep what was collected since the last flush.
        try? await services.authenticator.flushUsage()
    }
}

/// Sleeps, returning early (by throwing) on graceful shutdown.
package func gracefulShutdownOrSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
