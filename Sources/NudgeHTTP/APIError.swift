import Foundation
import HTTPTypes
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

/// The contract's error envelope: `{"error": {"type", "message", "param"}}`.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var message: String
    public var param: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ type: String, _ message: String, param: String? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.param = param
    }

    /// The envelope of a domain error: the same status, type and message for every layer.
    public init(_ e: NudgeError) {
        switch e.kind {
        case .validation: self.init(.unprocessableContent, "validation_error", e.message, param: e.field)
        case .malformed: self.init(.badRequest, "invalid_request", e.message, param: e.field)
        case .notFound: self.init(.notFound, "not_found", e.message, param: e.field)
        case .conflict: self.init(.conflict, "conflict", e.message, param: e.field)
        case .unauthorized: self.init(.unauthorized, "authentication_error", e.message, param: e.field)
        case .forbidden: self.init(.forbidden, "permission_error", e.message, param: e.field)
        case .tooLarge: self.init(.contentTooLarge, "payload_too_large", e.message, param: e.field)
        case .gone: self.init(.gone, "gone", e.message, param: e.field)
        case .unavailable:
            self.init(.serviceUnavailable, "service_unavailable", e.message, param: e.field)
            headers[.retryAfter] = "2"
        }
    }

    /// The client took longer than the body deadline to send its request.
    public static let requestTimeout: APIError = {
        var e = APIError(.requestTimeout, "request_timeout", "The request body was not received in time.")
        e.headers[.connection] = "close"
        return e
    }()
    public static let internalError = APIError(.internalServerError, "internal_error", "An unexpected error occurred.")

    /// The envelope of an error this product raised on purpose (an HTTP refusal or a domain
    /// error); nil for anything unexpected.
    package static func known(_ error: any Error) -> APIError? {
        switch error {
        case let e as APIError: return e
        case let e as NudgeError: return APIError(e)
        default: return nil
        }
    }

    package struct Envelope: Encodable {
        package struct Body: Encodable {
            package let type: String
            package let message: String
            package let param: String?
            package let request_id: String?
        }
        package let error: Body
    }

    package func response(requestID: String?) -> Response {
        let body = Envelope(error: .init(type: type, message: message, param: param, request_id: requestID))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        let data = (try? JSONCoding.encoder.encode(body)) ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
