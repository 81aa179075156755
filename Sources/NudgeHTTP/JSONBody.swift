import Foundation
import Hummingbird
import NIOCore
import NIOFoundationEssentialsCompat
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Request and response bodies: JSON coded as `JSONCoding` codes it, errors as the envelope.
extension JSONCoding {
    public static let maxJSONBody = 1 << 20

    /// Decodes a request body, turning every decoding failure into a 400 (not JSON) or a 422
    /// naming the field (`emails[0].address`).
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxJSONBody)
        } catch is NIOTooManyBytesError {
            throw NudgeError.tooLarge(maxJSONBody)
        }
        return try decode(type, from: Data(buffer: buffer))
    }

    public static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
