import Foundation
import NudgeCore

/// JSON text to `JSONValue` through JSONSerialization: `JSONValue`'s Decodable tries each type
/// in turn with `try?`, paying for a thrown error per miss on every node, which costs more than the
/// whole REST request on a tool call's answer.
enum JSONText {
    static func parse(_ data: Data) -> JSONValue? {
        guard let any = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        return value(any)
    }

    static func value(_ any: Any) -> JSONValue {
        switch any {
        case let s as String: return .string(s)
        // Booleans come as NSNumbers of type `c` (and `as? Bool` also accepts 0 and 1).
        case let n as NSNumber: return n.objCType.pointee == 0x63 ? .bool(n.boolValue) : .number(n.doubleValue)
        case let a as [Any]: return .array(a.map(value))
        case let o as [String: Any]: return .object(o.mapValues(value))
        default: return .null
        }
    }

    /// Compact text with sorted keys: the same arguments always give the same bytes (request
    /// bodies are hashed for `Idempotency-Key`).
    static let canonical: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func data(_ value: JSONValue) -> Data {
        (try? canonical.encode(value)) ?? Data("null".utf8)
    }
}
