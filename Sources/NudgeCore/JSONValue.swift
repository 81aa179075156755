import Foundation

/// A small JSON tree for event payloads, stored documents (sequence steps, sources) and the
/// LLM's replies, where a fixed Codable type would not fit.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n && abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Compact JSON text. NUL characters are dropped: PostgreSQL's jsonb refuses `\u0000`.
    public var serialized: String {
        (try? String(decoding: JSONCoding.encoder.encode(withoutNUL), as: UTF8.self)) ?? "null"
    }

    /// The same value without NUL characters in its strings and keys (a byte check each; the
    /// search of the encoded text for `\u0000` bridged through NSString for every event).
    package var withoutNUL: JSONValue {
        switch self {
        case .string(let s): return .string(s.withoutNUL)
        case .array(let a): return .array(a.map(\.withoutNUL))
        case .object(let o): return .object(Dictionary(o.map { ($0.key.withoutNUL, $0.value.withoutNUL) }, uniquingKeysWith: { first, _ in first }))
        default: return self
        }
    }

    public static func parse(_ text: String) -> JSONValue? {
        try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8))
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var number: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension JSONValue {
    public static func str(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
}

extension String {
    /// PostgreSQL text cannot hold NUL; real mail sometimes does.
    /// Byte-level: a NUL is one UTF-8 byte and never part of another character (Foundation's
    /// `contains`/`replacingOccurrences` cost a CFString search per field of every stored message).
    package var withoutNUL: String { utf8.contains(0) ? String(decoding: utf8.filter { $0 != 0 }, as: UTF8.self) : self }
}
