import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Outermost middleware: gives each request an id, records metrics, and turns every error into
/// the contract's envelope. Unexpected errors are logged with the request id and answered with a
/// generic 500 that reveals nothing.
package struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes, to answer 405 with `Allow` for a known path asked with a method it lacks.
    package var routes: RouteTable? = nil

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = request.headers[values: .init("X-Request-Id")!].first.flatMap { $0.count <= 128 ? $0 : nil } ?? Base62.random(count: 16)
        var context = context
        context.logger[metadataKey: "request_id"] = .string(requestID)
        var response: Response
        do {
            response = try await next(request, context)
        } catch let e as HTTPError where e.status == .notFound {
            if let allowed = routes?.methods(for: request.uri.path), !allowed.contains(request.method) {
                var refusal = APIError(
                    .methodNotAllowed, "invalid_request",
                    "Method \(request.method.rawValue) is not allowed on this route; allowed: \(RouteTable.allowHeader(allowed)).")
                refusal.headers[.allow] = RouteTable.allowHeader(allowed)
                response = refusal.response(requestID: requestID)
            } else {
                response = Self.envelope(for: e, logger: context.logger).response(requestID: requestID)
            }
        } catch {
            response = Self.envelope(for: error, logger: context.logger).response(requestID: requestID)
        }
        response.headers[.init("X-Request-Id")!] = requestID
        let route = context.endpointPath ?? "unmatched"
        let dims = [("method", request.method.rawValue), ("route", route), ("status", String(response.status.code))]
        Counter(label: "nudge_http_requests_total", dimensions: dims).increment()
        Timer(label: "nudge_http_request_duration_seconds", dimensions: [("route", route)], preferredDisplayUnit: .seconds)
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return response
    }

    package static func envelope(for error: any Error, logger: Logger) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as NudgeError:
            return APIError(e)
        case let e as HTTPError:
            switch e.status {
            case .notFound: return APIError(.notFound, "not_found", "No such route.")
            case .methodNotAllowed: return APIError(.methodNotAllowed, "invalid_request", "Method not allowed on this route.")
            case .contentTooLarge: return APIError(.tooLarge(JSONCoding.maxJSONBody))
            case .badRequest: return APIError(.malformed(e.body ?? "Bad request."))
            default:
                if e.status.code < 500 { return APIError(e.status, "invalid_request", e.body ?? e.status.reasonPhrase) }
                logger.error("http error", metadata: ["error": "\(e)"])
                return .internalError
            }
        case is NIOTooManyBytesError:
            return APIError(.tooLarge(JSONCoding.maxJSONBody))
        case let e as DatabaseFailure:
            if case .uniqueViolation = e {
                return APIError(.conflict("A concurrent request changed the same data; retry the request."))
            }
            if case .unavailable = e {
                logger.warning("database unavailable", metadata: ["error": "\(e)"])
                return APIError(.unavailable)
            }
            logger.error("database error", metadata: ["error": "\(e)"])
            return .internalError
        default:
            logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return .internalError
        }
    }

    package init(routes: RouteTable? = nil) {
        self.routes = routes
    }
}
