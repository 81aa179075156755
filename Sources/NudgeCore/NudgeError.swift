import Foundation

/// The product's one error type for what a caller did wrong or cannot have now. Thrown by every
/// layer below HTTP; the HTTP target alone turns it into a status and the error envelope.
public struct NudgeError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A field's value is refused (422); `field` names it.
        case validation
        /// The request as a whole cannot be read (400).
        case malformed
        case notFound
        /// The current state forbids it (409); `field` may name what to change.
        case conflict
        case unauthorized
        case forbidden
        case tooLarge
        /// It existed and was removed (retention): 410; `field` names what pointed to it.
        case gone
        /// A dependency (the database) is down; retry shortly (503).
        case unavailable
    }

    public var kind: Kind
    public var message: String
    public var field: String?

    public init(_ kind: Kind, _ message: String, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public static func validation(_ field: String, _ message: String) -> NudgeError {
        NudgeError(.validation, message, field: field)
    }
    public static func malformed(_ message: String) -> NudgeError {
        NudgeError(.malformed, message)
    }
    public static func notFound(_ what: String) -> NudgeError {
        NudgeError(.notFound, "No such \(what).")
    }
    public static func conflict(_ message: String, param: String? = nil) -> NudgeError {
        NudgeError(.conflict, message, field: param)
    }
    public static let unauthorized = NudgeError(.unauthorized, "Missing, malformed, unknown, revoked or expired API token.")
    public static func forbidden(_ scope: Scope) -> NudgeError {
        NudgeError(.forbidden, "This token lacks the scope \(scope.rawValue).")
    }
    public static func tooLarge(_ limit: Int) -> NudgeError {
        NudgeError(.tooLarge, "Request body exceeds \(limit) bytes.")
    }
    public static let unavailable = NudgeError(.unavailable, "The service is temporarily unavailable; retry shortly.")
}
