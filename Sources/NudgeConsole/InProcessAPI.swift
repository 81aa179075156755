import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NudgeCore
import NudgeHTTP
import Synchronization

/// The console asks the API, in process, through the application's own router (as the MCP tools
/// do): each page gets the route's scope check, validation, organization filter (another
/// organization's id is a 404) and rate limit by construction, with the session's token.
final class InProcessAPI: Sendable {
    private let responder = Mutex<(any HTTPResponder<AppContext>)?>(nil)

    func bind(_ r: any HTTPResponder<AppContext>) { responder.withLock { $0 = r } }

    struct Answer {
        let status: Int
        let body: JSONValue
        var ok: Bool { (200..<300).contains(status) }
    }

    func call(
        _ method: HTTPRequest.Method, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil, context: AppContext
    ) async throws -> Answer {
        guard let router = responder.withLock({ $0 }) else { throw NudgeError.unavailable }
        var target = path
        let q = query.filter { !$0.1.isEmpty }.map { "\($0.0)=\(Self.encode($0.1))" }
        if !q.isEmpty { target += "?" + q.joined(separator: "&") }
        var head = HTTPRequest(method: method, scheme: nil, authority: nil, path: target)
        var buffer = ByteBuffer()
        if let body {
            head.headerFields[.contentType] = "application/json"
            buffer.writeString(body.serialized)
        }
        let request = Request(head: head, body: .init(buffer: buffer))
        let response = try await router.respond(to: request, context: context)
        let text = String(buffer: try await response.collectedBody())
        return Answer(status: Int(response.status.code), body: JSONValue.parse(text) ?? .null)
    }

    /// A path segment or query value from the browser, percent-encoded so it cannot name another route.
    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ""
    }
}
