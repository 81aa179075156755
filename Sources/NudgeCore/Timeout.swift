import Synchronization

package struct TimeoutError: Error {}

/// Runs `body`, giving up after `duration`: the database being down must not hang a request or
/// the health probe. Unlike a task group, which on leaving waits for every child, this returns
/// at the deadline even when `body` ignores cancellation (a pool still trying to connect, a
/// query on a half-closed socket); `body` is cancelled and left to finish in the background.
/// Likely why a test run once saw the probe miss an outage for 71 s.
package func withTimeout<T: Sendable>(_ duration: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            race.start(c)
            let work = race.entrant(body)
            // The timer ends with the race, so a quick answer leaves no task sleeping out the deadline.
            let timer = Task {
                guard (try? await Task.sleep(for: duration)) != nil else { return }
                race.finish(with: .failure(TimeoutError()))
            }
            race.onEnd {
                work.cancel()
                timer.cancel()
            }
        }
    } onCancel: {
        race.finish(with: .failure(CancellationError()))
    }
}

/// The first outcome resumes the caller; later ones are dropped.
package final class Race<T: Sendable>: Sendable {
    private struct State {
        package var continuation: CheckedContinuation<T, Error>?
        package var early: Result<T, Error>?
        package var ended = false
        package var onEnd: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())

    package init() {}

    /// Runs `work` in a task of its own, which finishes the race with its outcome.
    package func entrant(_ work: @escaping @Sendable () async throws -> T) -> Task<Void, Never> {
        Task { do { finish(with: .success(try await work())) } catch { finish(with: .failure(error)) } }
    }

    package func start(_ c: CheckedContinuation<T, Error>) {
        let early = state.withLock { s -> Result<T, Error>? in
            if s.early == nil { s.continuation = c }
            return s.early
        }
        if let early { c.resume(with: early) }
    }

    package func onEnd(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.ended { return true }
            s.onEnd.append(action)
            return false
        }
        if now { action() }
    }

    package func finish(with result: Result<T, Error>) {
        let (c, actions) = state.withLock { s -> (CheckedContinuation<T, Error>?, [@Sendable () -> Void]) in
            guard !s.ended else { return (nil, []) }
            s.ended = true
            defer {
                s.continuation = nil
                s.onEnd = []
            }
            if s.continuation == nil { s.early = result }
            return (s.continuation, s.onEnd)
        }
        c?.resume(with: result)
        for a in actions { a() }
    }
}
