import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Bounds how long a client may take to send its request. The server's idle timeout closes a
/// connection that sends nothing (slow headers, a stalled body); this adds a budget for the time
/// spent waiting on the body, so a client trickling a byte at a time cannot hold a connection and
/// a handler open: past it the request gets 408 with the error envelope. Only the waits count, so
/// a body that arrived at once is never refused because the server was slow to read it.
package struct SlowClientGuard<Context: RequestContext>: RouterMiddleware {
    package let bodyDeadline: Duration

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        request.body = RequestBody(asyncSequence: DeadlineBody(base: request.body, budget: bodyDeadline))
        return try await next(request, context)
    }

    package init(bodyDeadline: Duration) {
        self.bodyDeadline = bodyDeadline
    }
}

package struct DeadlineBody: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer
    package let base: RequestBody
    package let budget: Duration

    package init(base: RequestBody, budget: Duration) {
        self.base = base
        self.budget = budget
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        package var base: RequestBody.AsyncIterator
        package let budget: Duration
        package var waited: Duration = .zero
        package mutating func next() async throws -> ByteBuffer? {
            let started = ContinuousClock.now
            let chunk = try await base.next()
            waited += ContinuousClock.now - started
            if chunk != nil, waited > budget { throw APIError.requestTimeout }
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), budget: budget) }
}
