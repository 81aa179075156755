import Foundation
import Logging
import Metrics
import NudgeCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Whether PostgreSQL answers, from a probe every half second on a connection of its own (so a
/// pool busy with requests is not mistaken for an outage): a connection error closes the gate at
/// once, two probes without an answer in 2 s close it too, and the next answered probe opens it
/// again. Without a client of its own it probes through the pool, and then only connection errors
/// count (a slow answer there may just be a busy pool). While the database is down the
/// API answers 503 at once instead of queueing for a pool that cannot connect, and requests
/// already waiting are ended with 503 too.
public final class DatabaseHealth: Service, Sendable {
    private struct State {
        package var up = true
        package var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        package var nextID = 0
    }

    private let state = Mutex(State())
    private let client: PostgresClient?
    private let pool: DatabasePool?
    private let ownsClient: Bool
    private let logger: Logger
    package let interval: Duration
    package let timeout: Duration

    /// `ownsClient`: `client` is the probe's own (one connection), run by this service.
    public init(client: PostgresClient, ownsClient: Bool, logger: Logger, interval: Duration = .milliseconds(500), timeout: Duration = .seconds(2)) {
        self.client = client
        self.pool = nil
        self.ownsClient = ownsClient
        self.logger = logger
        self.interval = interval
        self.timeout = timeout
    }

    /// Probes the host `pool` serves on a connection of its own, made afresh after an error: a
    /// refused or closed connection marks the database down at once (not after the pool's own
    /// connection attempts time out), and a host found in recovery (a standby after a failover)
    /// also sends the pool looking for the new primary.
    public init(pool: DatabasePool, logger: Logger, interval: Duration = .milliseconds(250), timeout: Duration = .seconds(1)) {
        self.client = nil
        self.pool = pool
        self.ownsClient = true
        self.logger = logger
        self.interval = interval
        self.timeout = timeout
    }

    public var isUp: Bool { state.withLock { $0.up } }

    public func run() async throws {
        if let pool { return await probe(pool) }
        guard let client, ownsClient else { return await probe() }
        await withDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            await probe()
            group.cancelAll()
        }
    }

    private func probe(_ pool: DatabasePool) async {
        await cancelWhenGracefulShutdown {
            var connection: PostgresConnection?
            var connectedTo: DatabaseTarget.Host?
            var slowProbes = 0
            while !Task.isCancelled {
                let host = pool.host
                do {
                    if connection == nil || connectedTo != host {
                        if let old = connection { try? await old.close() }
                        connection = nil
                        connection = try await PostgresConnection.connect(
                            configuration: try pool.target.connection(
                                at: host, connectTimeout: .milliseconds(Int64(self.timeout.nanoseconds / 1_000_000))),
                            id: 1, logger: self.logger)
                        connectedTo = host
                    }
                    let probe = connection!
                    // A statement sent on a connection that has closed is never answered
                    // (`untilClosed`): a closed one is an error at once, not a timeout.
                    try probe.ensureOpen()
                    let standby = try await withTimeout(self.timeout) {
                        try await probe.untilClosed {
                            try await probe.query("SELECT pg_is_in_recovery()", logger: self.logger).decode(Bool.self).collect().first ?? true
                        }
                    }
                    slowProbes = 0
                    if standby && pool.target.hosts.count > 1 {
                        self.markDown(reason: "\(host.map(String.init(describing:)) ?? "the server") is a standby")
                        pool.suspect("the probe found a standby")
                    } else {
                        self.markUp()
                    }
                } catch is TimeoutError {
                    slowProbes += 1
                    if slowProbes >= 2 {
                        self.markDown(reason: "no answer within \(self.timeout), twice")
                        pool.suspect("no answer")
                    }
                } catch {
                    if Task.isCancelled { break }
                    if let old = connection { try? await old.close() }
                    connection = nil
                    self.markDown(reason: "\(error)")
                    pool.suspect("\(error)")
                }
                try? await Task.sleep(for: self.interval)
            }
            if let connection { try? await connection.close() }
        }
    }

    private func probe() async {
        await cancelWhenGracefulShutdown {
            var slowProbes = 0
            while !Task.isCancelled {
                do {
                    try await withTimeout(self.timeout) {
                        _ = try await self.client!.query("SELECT 1", logger: self.logger).collect()
                    }
                    slowProbes = 0
                    self.markUp()
                } catch is TimeoutError {
                    // One slow answer may be a busy machine; two in a row is an outage.
                    slowProbes += 1
                    if self.ownsClient && slowProbes >= 2 { self.markDown(reason: "no answer within \(self.timeout), twice") }
                } catch {
                    if Task.isCancelled { return }
                    self.markDown(reason: "\(error)")  // refused, closed, shutting down: at once
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    package func markUp() {
        let changed = state.withLock { s in
            defer { s.up = true }
            return !s.up
        }
        guard changed else { return }
        Gauge(label: "nudge_database_up").record(1)
        logger.notice("database reachable again")
    }

    package func markDown(reason: String) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.up else { return [] }
            s.up = false
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
        Gauge(label: "nudge_database_up").record(0)
        logger.warning("database unreachable: answering 503 until it is back", metadata: ["reason": "\(reason)"])
    }

    /// Returns once the database is marked down, or when the calling task is cancelled.
    private func waitUntilDown() async {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if !s.up || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    private enum Outcome<T: Sendable>: Sendable {
        case done(T)
        case down
    }

    /// Runs `body` unless the database is down, and ends it with a 503 if the database goes down
    /// while it runs (its transaction is rolled back with the lost connection).
    package func failFast<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard isUp else { throw NudgeError.unavailable }
        // The body runs exactly once, in the child task, while this task waits for it: the group
        // ends before this function returns, so the body does not really escape.
        return try await withoutActuallyEscaping(body) { body in
            let work = UncheckedSendableBox(body)
            return try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
                group.addTask { .done(try await work.value()) }
                group.addTask {
                    await self.waitUntilDown()
                    return .down
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    switch outcome {
                    case .done(let value): return value
                    case .down where Task.isCancelled: continue
                    case .down: throw NudgeError.unavailable
                    }
                }
                throw CancellationError()
            }
        }
    }
}

/// Hands a non-Sendable value to exactly one other task while the owner waits for it.
package struct UncheckedSendableBox<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}
