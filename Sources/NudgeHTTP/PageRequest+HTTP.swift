import Foundation
import Hummingbird
import NIOCore
import NudgeCore
import NudgeStore
import NudgeWorkers

/// Paging as the query string and the answer body carry it.
extension PageRequest {
    /// `?limit=`, 1…200, default 50.
    public static func limit(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return 50 }
        guard let n = Int(String(raw)), (1...200).contains(n) else {
            throw NudgeError.validation("limit", "limit must be an integer from 1 to 200.")
        }
        return n
    }

    public init(_ request: Request) throws {
        let q = request.uri.queryParameters
        // `limit` first: with both wrong, the error names it, as it always has.
        let limit = try Self.limit(request)
        var before: (at: Date, id: String)?
        if let raw = q["cursor"], !raw.isEmpty {
            guard let c = Self.decode(String(raw)) else { throw NudgeError.validation("cursor", "cursor is not valid.") }
            before = c
        }
        self.init(limit: limit, before: before)
    }
}

extension EncodedPage {
    /// `{"data": [...], "next_cursor": "..." | null}`, as `Page` encodes it.
    public func response() -> Response {
        var body = ByteBuffer()
        body.reserveCapacity(bytes + Self.envelope)
        body.writeString(#"{"data":["#)
        for (i, item) in items.enumerated() {
            if i > 0 { body.writeString(",") }
            body.writeBytes(item)
        }
        // The cursor is base64url: nothing in it needs escaping.
        body.writeString(#"],"next_cursor":"# + (nextCursor.map { "\"\($0)\"" } ?? "null") + "}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}

extension Request {
    /// A query parameter. PostgreSQL text cannot hold NUL, so a value with one is refused here (a
    /// 422 naming the parameter) instead of failing the statement it would be bound to.
    package func query(_ name: String) throws -> String? {
        guard let v = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard !v.utf8.contains(0) else { throw NudgeError.validation(name, "\(name) must not contain NUL characters.") }
        return v
    }
}

extension TenantContext {
    /// A path id of the expected kind; anything else is simply not found.
    package func id(_ name: String, _ prefix: IDPrefix, what: String) throws -> String {
        guard let raw = parameters.get(name), ID.isValid(raw, prefix) else { throw NudgeError.notFound(what) }
        return raw
    }
}
