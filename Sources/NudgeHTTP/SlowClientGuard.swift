import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Bounds how long a client may take to send its request. The server's idle timeout closes a
/// connection that sends nothing (slow headers, a stalled body); this adds a deadline for the
/// whole body, so a client trickling a byte at a time cannot hold a connection and a handler
/// open: past it the request gets 408 with the error envelope.
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

    package struct AsyncIterator: AsyncIteratorProtocol {
        package var base: RequestBody.AsyncIterator
        package let deadline: ContinuousClock.Instant
        package mutating func next() async throws -> ByteBuffer? {
            let chunk = try await base.next()
            if chunk != nil, ContinuousClock.now > deadline { throw APIError.requestTimeout }
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), deadline: deadline) }
}
