import Foundation
import Logging
import NIOCore
import NudgeCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The connection pool of a database that may move: with several hosts (libpq's
/// `postgres://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write`, as pg_auto_failover
/// prints it), the pool serves the host that accepts writes and moves to another when a failover
/// makes that one read-only or unreachable, without a restart. A suspicion (a lost connection, a
/// "read-only transaction" error, the health probe finding the host in recovery) starts a search:
/// each host is asked `pg_is_in_recovery()` on a connection of its own, and a new pool is started
/// on the writable one. Transactions already running on the old pool fail (a 503 for the API,
/// a retry for the workers); new ones get the new pool.
public final class DatabasePool: Service, Sendable {
    private struct State {
        var client: PostgresClient
        var host: DatabaseTarget.Host?
        /// Why a search is pending; nil once the pool serves the writable host.
        var suspicion: String?
        /// The task running `client`; cancelling it ends that pool.
        var runner: Task<Void, Never>?
    }

    public let target: DatabaseTarget
    private let logger: Logger
    private let state: Mutex<State>
    /// Wakes `run` to search; the newest wake-up is enough, any number of suspicions make one search.
    private let wakeUps = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// How long a search waits between rounds while no host accepts writes.
    package let retryInterval: Duration

    public init(target: DatabaseTarget, logger: Logger, retryInterval: Duration = .milliseconds(250)) {
        self.target = target
        self.logger = logger
        self.retryInterval = retryInterval
        let first = target.hosts.first
        state = Mutex(State(client: PostgresClient(configuration: target.client(at: first), backgroundLogger: logger), host: first))
        // The first pool starts on the first host; a multi-host target checks it at once.
        if target.hosts.count > 1 { suspect("starting") }
    }

    /// Returns once no search is pending (the pool serves the writable host), or throws
    /// `DatabaseFailure.unavailable` after `timeout`.
    public func settled(timeout: Duration = .seconds(60)) async throws {
        let end = ContinuousClock.now + timeout
        while state.withLock({ $0.suspicion != nil }) {
            guard ContinuousClock.now < end else { throw DatabaseFailure.unavailable("no host of \(target.hosts) accepts writes") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The pool new transactions use.
    public var client: PostgresClient { state.withLock { $0.client } }
    /// The host it connects to (nil for a Unix socket).
    public var host: DatabaseTarget.Host? { state.withLock { $0.host } }

    /// Something suggests the current host no longer takes writes: look for the one that does.
    /// Only a target with several hosts moves; with one there is nowhere to go.
    package func suspect(_ reason: String) {
        guard target.hosts.count > 1 else { return }
        state.withLock { s in if s.suspicion == nil { s.suspicion = reason } }
        wakeUps.continuation.yield()
    }

    /// Runs the current pool, and searches whenever a suspicion wakes it, until shutdown.
    public func run() async throws {
        let first = client
        state.withLock { $0.runner = Task { await first.run() } }
        await withGracefulShutdownHandler {
            // Ends when the stream is finished (graceful shutdown) or this task is cancelled.
            for await _ in wakeUps.stream { await search() }
        } onGracefulShutdown: {
            self.wakeUps.continuation.finish()
        }
        let runner = state.withLock { $0.runner }
        runner?.cancel()
        await runner?.value
    }

    /// Finds the writable host, trying every host each round until one answers; moves the pool
    /// there when it is not the current one.
    private func search() async {
        let reason = state.withLock { $0.suspicion } ?? "?"
        while !Task.isCancelled {
            if let writable = await Self.findWritable(target, logger: logger) {
                let replaced = state.withLock { s -> Task<Void, Never>? in
                    s.suspicion = nil
                    guard s.host != writable else { return nil }
                    let next = PostgresClient(configuration: target.client(at: writable), backgroundLogger: logger)
                    let old = s.runner
                    s.client = next
                    s.host = writable
                    s.runner = Task { await next.run() }
                    return old
                }
                if let replaced {
                    logger.notice("database primary moved", metadata: ["host": "\(writable)", "reason": "\(reason)"])
                    // The old pool ends; transactions still on it fail as unavailable.
                    replaced.cancel()
                }
                return
            }
            try? await Task.sleep(for: retryInterval)
        }
    }

    /// The first host (in the URL's order) that is up and not in recovery.
    public static func findWritable(_ target: DatabaseTarget, logger: Logger) async -> DatabaseTarget.Host? {
        for host in target.hosts {
            if (try? await acceptsWrites(try target.connection(at: host), logger: logger)) == true { return host }
        }
        return nil
    }

    /// Whether the server at `configuration` accepts writes: reachable and not in recovery.
    package static func acceptsWrites(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws -> Bool {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        defer { Task { try? await connection.close() } }
        let rows = try await connection.query("SELECT pg_is_in_recovery()", logger: logger).decode(Bool.self).collect()
        return rows.first == false
    }
}
