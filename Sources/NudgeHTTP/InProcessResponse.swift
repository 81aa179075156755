import HTTPTypes
import Hummingbird
import NIOCore

extension Response {
    /// The whole body of a response made in process (the console's and the MCP tools' calls
    /// through the router), without a socket.
    package func collectedBody() async throws -> ByteBuffer {
        let collector = BodyCollector()
        try await body.write(collector)
        return collector.buffer
    }
}

/// Collects a response body written by a handler.
private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    var buffer = ByteBuffer()
    func write(_ b: ByteBuffer) async throws {
        var b = b
        buffer.writeBuffer(&b)
    }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
