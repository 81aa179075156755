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
        /// Pools started here that `run` has not started running yet.
        var pending: [PostgresClient] = []
        var suspicion: String?
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
        var retirements: [ObjectIdentifier: Retirement] = [:]
    }

    public let target: DatabaseTarget
    private let logger: Logger
    private let state: Mutex<State>
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
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.suspicion == nil { s.suspicion = reason }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            let first = client
            group.addTask { await Self.run(first, until: self.retirement(of: first)) }
            await withGracefulShutdownHandler {
                while !Task.isCancelled && !self.stopping {
                    await self.waitForSuspicion()
                    if Task.isCancelled || self.stopping { break }
                    await self.search()
                    for started in self.state.withLock({ s -> [PostgresClient] in
                        defer { s.pending = [] }
                        return s.pending
                    }) {
                        group.addTask { await Self.run(started, until: self.retirement(of: started)) }
                    }
                }
            } onGracefulShutdown: {
                self.stop()
            }
            group.cancelAll()
        }
    }

    /// Runs a pool until it is replaced (PostgresNIO's pool ends when its task is cancelled).
    private static func run(_ client: PostgresClient, until retired: Retirement) async {
        await withTaskGroup(of: Void.self) { g in
            g.addTask { await client.run() }
            g.addTask { await retired.wait() }
            await g.next()
            g.cancelAll()
        }
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func stop() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.stopping = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    private func retirement(of client: PostgresClient) -> Retirement {
        state.withLock { s in
            let id = ObjectIdentifier(client)
            if let r = s.retirements[id] { return r }
            let r = Retirement()
            s.retirements[id] = r
            return r
        }
    }

    private func waitForSuspicion() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.suspicion != nil || s.stopping || Task.isCancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }?.resume()
        }
    }

    /// Finds the writable host, trying every host each round until one answers; moves the pool
    /// there when it is not the current one.
    private func search() async {
        let reason = state.withLock { $0.suspicion } ?? "?"
        while !Task.isCancelled {
            if let writable = await findWritable() {
                let moved = state.withLock { s -> PostgresClient? in
                    s.suspicion = nil
                    guard s.host != writable else { return nil }
                    let old = s.client
                    s.client = PostgresClient(configuration: target.client(at: writable), backgroundLogger: logger)
                    s.host = writable
                    s.pending.append(s.client)
                    return old
                }
                if let old = moved {
                    logger.notice("database primary moved", metadata: ["host": "\(writable)", "reason": "\(reason)"])
                    // Its run task ends; transactions still on it fail as unavailable.
                    retirement(of: old).retire()
                    state.withLock { _ = $0.retirements.removeValue(forKey: ObjectIdentifier(old)) }
                }
                return
            }
            try? await Task.sleep(for: retryInterval)
        }
    }

    /// The first host (in the URL's order) that is up and not in recovery.
    package func findWritable() async -> DatabaseTarget.Host? {
        await Self.findWritable(target, logger: logger)
    }

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

/// The end of a replaced pool's life: `wait` returns once `retire` is called.
private final class Retirement: Sendable {
    private let state = Mutex<(retired: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.retired || Task.isCancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }?.resume()
        }
    }

    func retire() {
        state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.retired = true
            defer { s.waiter = nil }
            return s.waiter
        }?.resume()
    }
}
