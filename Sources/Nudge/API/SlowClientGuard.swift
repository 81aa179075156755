import Hummingbird
import NIOCore

/// Bounds how long a client may take to send its request. The server's idle timeout closes a
/// connection that sends nothing (slow headers, a stalled body); this adds a deadline for the
/// whole body, so a client trickling a byte at a time cannot hold a connection and a handler
/// open: past it the request gets 408 with the error envelope.
struct SlowClientGuard<Context: RequestContext>: RouterMiddleware {
    let bodyDeadline: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        request.body = RequestBody(asyncSequence: DeadlineBody(base: request.body, deadline: .now + bodyDeadline))
        return try await next(request, context)
    }
}

struct DeadlineBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let deadline: ContinuousClock.Instant

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let deadline: ContinuousClock.Instant
        mutating func next() async throws -> ByteBuffer? {
            let chunk = try await base.next()
            if chunk != nil, ContinuousClock.now > deadline { throw APIError.requestTimeout }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), deadline: deadline) }
}
