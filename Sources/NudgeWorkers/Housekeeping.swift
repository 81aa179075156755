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
        var tick = 0
        var movedSinceVacuum = 0
        let stats = SequenceStatsStore(db: services.db)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Each job on its own: one that fails (the database away) does not hold up the others.
            await attempt("statistics") {
                // Statistics' changes into their counters every tick: a reader scans the changes
                // not yet moved (they have no index), so they stay a few seconds' worth.
                while true {
                    let (moved, full) = try await stats.compact()
                    movedSinceVacuum += moved
                    if !full { break }
                }
                if movedSinceVacuum >= 20_000 {
                    movedSinceVacuum = 0
                    try await stats.vacuum()
                }
            }
            if tick % 6 == 0 {
                await attempt("token usage") { try await services.authenticator.flushUsage() }
                await attempt("idempotency purge") { try await IdempotencyStore(db: services.db).purge(now: services.clock.now()) }
            }
            tick += 1
            try? await gracefulShutdownOrSleep(.seconds(2.5))
        }
        // Keep what was collected since the last flush.
        try? await services.authenticator.flushUsage()
    }

    private func attempt(_ job: String, _ body: () async throws -> Void) async {
        do { try await body() } catch {
            services.logger.warning("housekeeping failed", metadata: ["job": "\(job)", "error": "\(error)"])
        }
    }
}

/// Sleeps, returning early (by throwing) on graceful shutdown.
package func gracefulShutdownOrSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
