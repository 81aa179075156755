import Foundation

/// JSON in and out. Field names on the wire are the Swift property names (snake_case DTOs), so
/// no key conversion touches user-defined maps such as contact `fields`.
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RFC3339.string(date))
        }
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = RFC3339.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an RFC 3339 timestamp")
            }
            return date
        }
        return d
    }()

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        if data.isEmpty { throw NudgeError.malformed("Request body must be a JSON object.") }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw map(error)
        } catch let error as NudgeError {
            throw error
        } catch {
            throw NudgeError.malformed("Request body is not valid JSON.")
        }
    }

    package static func path(_ codingPath: [any CodingKey], _ last: String? = nil) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
        }
        if let last { out += (out.isEmpty ? "" : ".") + last }
        return out
    }

    package static func map(_ error: DecodingError) -> NudgeError {
        switch error {
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty { return NudgeError.malformed("Request body is not valid JSON.") }
            return .validation(path(ctx.codingPath), ctx.debugDescription)
        case .keyNotFound(let key, let ctx):
            let p = path(ctx.codingPath, key.stringValue)
            return .validation(p, "\(p) is required.")
        case .typeMismatch(let type, let ctx):
            let p = path(ctx.codingPath)
            if ctx.codingPath.isEmpty { return NudgeError.malformed("Request body must be a JSON object.") }
            return .validation(p, "\(p) must be \(describe(type)).")
        case .valueNotFound(let type, let ctx):
            let p = path(ctx.codingPath)
            return .validation(p, "\(p) must be \(describe(type)), not null.")
        @unknown default:
            return NudgeError.malformed("Request body could not be decoded.")
        }
    }

    package static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Double.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

/// A list page: `{"data": [...], "next_cursor": "..." | null}`.
public struct Page<T: Encodable>: Encodable {
    public let data: [T]
    public let next_cursor: String?

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(next_cursor, forKey: .next_cursor)  // explicit null, as documented
    }
    package enum CodingKeys: String, CodingKey { case data, next_cursor }

    /// The same page with each item shown another way.
    package func map<U: Encodable>(_ transform: (T) -> U) -> Page<U> { Page<U>(data: data.map(transform), next_cursor: next_cursor) }
}
