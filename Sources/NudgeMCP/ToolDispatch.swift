import Foundation
import HTTPTypes
import Hummingbird
import MCP
import NIOCore
import NudgeCore
import NudgeHTTP
import Synchronization

/// A tool call becomes the API request it stands for, answered by the application's own router
/// in process: the route's scope check, `Idempotency-Key`, validation, the error envelope and the
/// rate limit are the REST ones by construction. Arguments are checked first against the tool's
/// schema at the top level (names and JSON types): a mistake there is a protocol error
/// (-32602); everything the API refuses comes back as a tool error the agent can act on.
package final class ToolDispatch: Sendable {
    let clock: any NudgeClock
    private let responder = Mutex<(any HTTPResponder<AppContext>)?>(nil)

    package init(clock: any NudgeClock) {
        self.clock = clock
    }

    func bind(_ r: any HTTPResponder<AppContext>) { responder.withLock { $0 = r } }

    func call(params: JSONValue, id: JSONValue, registry: ToolRegistry, context: AppContext) async throws -> Response {
        guard let name = params["name"]?.string else { return RPC.failure(.ok, id: id, .invalidParams("name (a string) is required.")) }
        guard let tool = registry.byName[name] else {
            return RPC.failure(.ok, id: id, .invalidParams("Unknown tool: \(name.prefix(100)). tools/list names the tools of this token."))
        }
        let rawArgs = params["arguments"] ?? .object([:])
        guard case .object(let args) = rawArgs else { return RPC.failure(.ok, id: id, .invalidParams("arguments must be an object.")) }
        if let problem = Self.check(args, tool) { return RPC.failure(.ok, id: id, .invalidParams(problem)) }

        var inner = context
        let request: Request
        do {
            (request, inner.idempotencyFingerprint) = try build(tool, args)
        } catch let e as NudgeError {
            return RPC.success(
                id: id,
                ToolResult.failure(
                    status: 422,
                    envelope: .object([
                        "error": .object([
                            "type": .string("validation_error"), "message": .string(e.message), "param": e.field.map { .string($0) } ?? .null,
                        ])
                    ]), headers: [:]))
        }
        guard let router = responder.withLock({ $0 }) else { throw NudgeError.unavailable }
        let response = try await router.respond(to: request, context: inner)
        let raw = Array(try await response.collectedBody().readableBytesView)
        let body = JSONText.parse(raw) ?? .null
        let code = Int(response.status.code)
        guard (200..<300).contains(code) else {
            return RPC.success(id: id, ToolResult.failure(status: code, envelope: body, headers: response.headers, tool: tool))
        }
        // structuredContent is an object; an answer without a body (none today) gives `{}`.
        guard case .object = body else { return RPC.success(id: id, raw: ToolResult.success(tool, raw: Array("{}".utf8), .object([:]))) }
        return RPC.success(id: id, raw: ToolResult.success(tool, raw: raw, body))
    }

    /// Names and top-level JSON types against the tool's schema; nil when they fit.
    package static func check(_ args: [String: JSONValue], _ tool: MCPTool) -> String? {
        for (key, value) in args.sorted(by: { $0.key < $1.key }) {
            guard let expected = tool.argumentTypes[key] else {
                return "Unknown argument \(key.prefix(100)) for \(tool.name); it takes: \(tool.argumentTypes.keys.sorted().joined(separator: ", "))."
            }
            guard let type = expected else { continue }
            let fits: Bool
            switch (type, value) {
            case ("string", .string), ("boolean", .bool), ("number", .number), ("array", .array), ("object", .object): fits = true
            case ("integer", .number(let n)): fits = n.rounded() == n
            default: fits = false
            }
            if !fits {
                return "Argument \(key) of \(tool.name) must be \(type == "integer" || type == "array" || type == "object" ? "an" : "a") \(type)."
            }
        }
        for p in tool.pathParameters {
            // An empty or dot segment would name another route (`/v1/contacts//` is the list).
            guard let v = args[p]?.string, !v.isEmpty, v != ".", v != ".." else { return "Argument \(p) of \(tool.name) is required (an id)." }
        }
        return nil
    }

    /// The API request for a call, and the fingerprint that replaces its body for
    /// `Idempotency-Key` when the body depends on the time of the call (`send_one` at a time).
    package func build(_ tool: MCPTool, _ args: [String: JSONValue]) throws -> (Request, String?) {
        var path = ""
        for segment in tool.route.path.split(separator: "/") {
            let name = String(segment.dropFirst())
            let value = segment.first == ":" ? Self.text(args[name] ?? .null) : String(segment)
            path += "/" + (value.addingPercentEncoding(withAllowedCharacters: .urlPathSegmentAllowed) ?? "")
        }
        path += "/"
        let query = tool.queryParameters.compactMap { name -> String? in
            guard let v = args[name] else { return nil }
            return "\(name)=\(Self.text(v).addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? "")"
        }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }

        var head = HTTPRequest(method: tool.route.method, scheme: nil, authority: nil, path: path)
        let key = args["idempotency_key"].map(Self.text)
        if let key { head.headerFields[HTTPField.Name("Idempotency-Key")!] = key }
        var fingerprint: String?
        var body: ByteBuffer = ByteBuffer()
        if tool.route.method == .post || tool.route.method == .patch {
            let fields: [String: JSONValue]
            switch tool.spec.shape {
            case .sendOne:
                fields = try SendOne.body(args, now: clock.now())
                if key != nil, args["send_at"] != nil {
                    fingerprint = "send_one " + String(decoding: JSONText.data(.object(args)), as: UTF8.self)
                }
            case .rest:
                let skip = Set(tool.pathParameters + tool.queryParameters + ["idempotency_key"])
                fields = args.filter { !skip.contains($0.key) }.merging(tool.spec.fixed) { _, fixed in fixed }
            }
            body = ByteBuffer(bytes: JSONText.data(.object(fields)))
            head.headerFields[.contentType] = "application/json"
        }
        return (Request(head: head, body: .init(buffer: body)), fingerprint)
    }

    static func text(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        default: return String(decoding: JSONText.data(v), as: UTF8.self)
        }
    }
}

extension CharacterSet {
    static let urlPathSegmentAllowed: CharacterSet = {
        var s = CharacterSet.urlPathAllowed
        s.remove(charactersIn: "/;?#")
        return s
    }()
    static let urlQueryValueAllowed: CharacterSet = {
        var s = CharacterSet.urlQueryAllowed
        s.remove(charactersIn: "&=+#")
        return s
    }()
}
