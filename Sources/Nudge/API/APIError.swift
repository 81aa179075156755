import Foundation
import HTTPTypes
import Hummingbird

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

    public static func validation(_ param: String, _ message: String) -> APIError {
        APIError(.unprocessableContent, "validation_error", message, param: param)
    }
    public static func malformed(_ message: String) -> APIError {
        APIError(.badRequest, "invalid_request", message)
    }
    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, "not_found", "No such \(what).")
    }
    public static func conflict(_ message: String, param: String? = nil) -> APIError {
        APIError(.conflict, "conflict", message, param: param)
    }
    public static let unauthorized = APIError(.unauthorized, "authentication_error", "Missing, malformed, unknown, revoked or expired API token.")
    public static func forbidden(_ scope: Scope) -> APIError {
        APIError(.forbidden, "permission_error", "This token lacks the scope \(scope.rawValue).", param: nil)
    }
    public static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, "payload_too_large", "Request body exceeds \(limit) bytes.")
    }
    public static let unavailable: APIError = {
        var e = APIError(.serviceUnavailable, "service_unavailable", "The service is temporarily unavailable; retry shortly.")
        e.headers[.retryAfter] = "2"
        return e
    }()
    /// The client took longer than the body deadline to send its request.
    public static let requestTimeout: APIError = {
        var e = APIError(.requestTimeout, "request_timeout", "The request body was not received in time.")
        e.headers[.connection] = "close"
        return e
    }()
    public static let internalError = APIError(.internalServerError, "internal_error", "An unexpected error occurred.")

    struct Envelope: Encodable {
        struct Body: Encodable {
            let type: String
            let message: String
            let param: String?
            let request_id: String?
        }
        let error: Body
    }

    func response(requestID: String?) -> Response {
        let body = Envelope(error: .init(type: type, message: message, param: param, request_id: requestID))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        let data = (try? JSONCoding.encoder.encode(body)) ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
