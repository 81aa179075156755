import NudgeCore
import PostgresNIO
import Synchronization

extension PostgresConnection {
    /// Runs `work`, which uses this connection, and fails as `unavailable` when the connection
    /// closes first. PostgresNIO (1.33) never answers a statement written to a closed connection:
    /// a session that ends between two statements of a transaction (a restart, the
    /// idle-in-transaction timeout, pg_terminate_backend) would leave its caller waiting forever.
    /// Upstream: vapor/postgres-nio#487 ("Query Hangs if Connection is Closed") fixed this and was
    /// reverted by #501; drop this wrapper once a release fails such statements itself.
    /// `work` runs in a task of its own so that the caller can leave it there, holding nothing but
    /// its memory (the pool drops a closed connection even while leased). It is not cancelled:
    /// what it does apart from the database goes on (a dispatch batch's sends, each marked as it is
    /// accepted). The caller's cancellation is passed on to `work`, which is still awaited.
    package func untilClosed<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        let task = CancellableWork()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
                race.start(c)
                task.set(race.entrant(work))
                let watch = ClosedConnections.shared.watch(self) {
                    race.finish(with: .failure(DatabaseFailure.unavailable("the connection closed")))
                }
                race.onEnd { ClosedConnections.shared.unwatch(self, watch) }
            }
        } onCancel: {
            task.cancel()
        }
    }
}

/// The work task of `untilClosed`, which may be cancelled before it exists.
private final class CancellableWork: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    package func set(_ task: Task<Void, Never>) {
        if state.withLock({ s in
            s.task = task
            return s.cancelled
        }) {
            task.cancel()
        }
    }

    package func cancel() {
        state.withLock { s in
            s.cancelled = true
            return s.task
        }?.cancel()
    }
}

/// Who waits on which connection's close. A connection's close future gets one callback, when the
/// connection is first watched, rather than one per transaction: callbacks cannot be removed, and
/// pooled connections live for hours.
package final class ClosedConnections: Sendable {
    package static let shared = ClosedConnections()

    private struct Watched {
        package let connection: PostgresConnection  // held until it closes, so its identifier is not reused
        package var waiters: [UInt64: @Sendable () -> Void] = [:]
    }
    private let state = Mutex<(next: UInt64, watched: [ObjectIdentifier: Watched])>((0, [:]))

    /// How many callers wait on `connection`; nil once it closed (or was never watched).
    package func waiters(on connection: PostgresConnection) -> Int? {
        state.withLock { $0.watched[ObjectIdentifier(connection)]?.waiters.count }
    }

    /// Calls `onClose` once if `connection` closes before `unwatch`; at once if it has closed already.
    package func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> UInt64 {
        let key = ObjectIdentifier(connection)
        let (id, first) = state.withLock { s -> (UInt64, Bool) in
            s.next += 1
            let first = s.watched[key] == nil
            if first { s.watched[key] = Watched(connection: connection) }
            s.watched[key]!.waiters[s.next] = onClose
            return (s.next, first)
        }
        // A future that has completed already runs the callback at once.
        if first { connection.closeFuture.whenComplete { _ in self.closed(key) } }
        return id
    }

    package func unwatch(_ connection: PostgresConnection, _ id: UInt64) {
        state.withLock { s in _ = s.watched[ObjectIdentifier(connection)]?.waiters.removeValue(forKey: id) }
    }

    private func closed(_ key: ObjectIdentifier) {
        let waiters = state.withLock { s in s.watched.removeValue(forKey: key)?.waiters.values.map { $0 } ?? [] }
        for w in waiters { w() }
    }
}
