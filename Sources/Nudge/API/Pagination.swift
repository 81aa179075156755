import Foundation
import Hummingbird

/// `?limit=` (1…200, default 50) and an opaque `?cursor=` over (created_at, id), newest first.
/// Keyset pagination stays stable while rows are inserted: no duplicates, no gaps.
public struct PageRequest: Sendable {
    public let limit: Int
    public let before: (at: Date, id: String)?

    /// The sentinel used when there is no cursor, so one SQL statement serves both cases.
    public var beforeAt: Date { before?.at ?? Date(timeIntervalSince1970: 253_402_300_799) }
    public var beforeID: String { before?.id ?? "~" }

    /// `?limit=`, 1…200, default 50.
    public static func limit(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return 50 }
        guard let n = Int(String(raw)), (1...200).contains(n) else {
            throw APIError.validation("limit", "limit must be an integer from 1 to 200.")
        }
        return n
    }

    public init(_ request: Request) throws {
        let q = request.uri.queryParameters
        limit = try Self.limit(request)
        if let raw = q["cursor"], !raw.isEmpty {
            guard let c = Self.decode(String(raw)) else { throw APIError.validation("cursor", "cursor is not valid.") }
            before = c
        } else {
            before = nil
        }
    }

    /// Builds the page from `limit + 1` fetched rows.
    public func page<T: Encodable>(_ rows: [T], key: (T) -> (Date, String)) -> Page<T> {
        guard rows.count > limit else { return Page(data: rows, next_cursor: nil) }
        let kept = Array(rows.prefix(limit))
        let (at, id) = key(kept[kept.count - 1])
        return Page(data: kept, next_cursor: Self.encode(at, id))
    }

    static func encode(_ at: Date, _ id: String) -> String {
        let micros = Int64((at.timeIntervalSince1970 * 1_000_000).rounded())
        return Data("\(micros)|\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ s: String) -> (Date, String)? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard s.count <= 200, let data = Data(base64Encoded: b), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|", maxSplits: 1)
        guard parts.count == 2, let micros = Int64(parts[0]) else { return nil }
        return (Date(timeIntervalSince1970: Double(micros) / 1_000_000), String(parts[1]))
    }
}

extension Request {
    /// A query parameter. PostgreSQL text cannot hold NUL, so a value with one is refused here (a
    /// 422 naming the parameter) instead of failing the statement it would be bound to.
    func query(_ name: String) throws -> String? {
        guard let v = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard !v.utf8.contains(0) else { throw APIError.validation(name, "\(name) must not contain NUL characters.") }
        return v
    }
}

extension TenantContext {
    /// A path id of the expected kind; anything else is simply not found.
    func id(_ name: String, _ prefix: IDPrefix, what: String) throws -> String {
        guard let raw = parameters.get(name), ID.isValid(raw, prefix) else { throw APIError.notFound(what) }
        return raw
    }
}
