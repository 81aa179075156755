import Foundation

/// Runs blocking work (a process starting, a checker running, initdb) on a thread of its own and
/// awaits it. Swift's shared pool has one thread per core (two here): a test blocking one of them
/// stalls every task of the test process, the apps under test with them, and their requests
/// then time out under the whole suite's load.
public func offThePool<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let box = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Unchecked<T>, any Error>) in
        Thread { continuation.resume(with: Result { Unchecked(value: try body()) }) }.start()
    }
    return box.value
}

/// A value handed from the thread to the awaiting task, which alone uses it afterwards.
private struct Unchecked<T>: @unchecked Sendable { let value: T }
