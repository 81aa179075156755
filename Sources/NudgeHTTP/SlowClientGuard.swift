import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Bounds how long a client may take to send its request. The server's idle timeout closes a
/// connection that sends nothing (slow headers, a stalled body); this adds a deadline for the
/// body, so a client trickling a byte at a time cannot hold a connection and a handler open: a
/// chunk the server had to wait for that comes after the deadline gets 408 with the error
/// envelope. A body that had arrived already is read however late the handler reads it (a
/// server slow to get to it is no fault of the client's).
package struct SlowClientGuard<Context: RequestContext>: RouterMiddleware {
    package let bodyDeadline: Duration

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        request.body = RequestBody(asyncSequence: DeadlineBody(base: request.body, deadline: .now + bodyDeadline))
        return try await next(request, context)
    }

    package init(bodyDeadline: Duration) {
        self.bodyDeadline = bodyDeadline
    }
}

package struct DeadlineBody: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer
    package let base: RequestBody
    package let deadline: ContinuousClock.Instant
    /// A chunk that took longer than this to come was waited for, not read from what had arrived.
    package static let waited: Duration = .milliseconds(10)

    package init(base: RequestBody, deadline: ContinuousClock.Instant) {
        self.base = base
        self.deadline = deadline
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        package var base: RequestBody.AsyncIterator
        package let deadline: ContinuousClock.Instant
        package mutating func next() async throws -> ByteBuffer? {
            let asked = ContinuousClock.now
            let chunk = try await base.next()
            let now = ContinuousClock.now
            if chunk != nil, now > deadline, now - asked > DeadlineBody.waited { throw APIError.requestTimeout }
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), deadline: deadline) }
}
