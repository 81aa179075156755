import Foundation

/// PATCH bodies distinguish "absent" (leave as is) from `null` (clear) from a value.
package enum PatchField<T> {
    case absent
    case null
    case value(T)

    /// nil when absent; .some(nil) when null.
    package var update: T?? {
        switch self {
        case .absent: return nil
        case .null: return .some(nil)
        case .value(let v): return .some(v)
        }
    }
}

/// A decoded JSON object with typed, field-naming accessors.
package struct PatchBody {
    package let fields: [String: JSONValue]

    package init(_ value: JSONValue) throws {
        guard case .object(let o) = value else { throw NudgeError.malformed("Request body must be a JSON object.") }
        fields = o
    }

    package func string(_ key: String) throws -> PatchField<String> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case .string(let s)?: return .value(s)
        default: throw NudgeError.validation(key, "\(key) must be a string.")
        }
    }

    package func int(_ key: String) throws -> PatchField<Int> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case .number(let n)?:
            guard n.rounded() == n, abs(n) < 1e9 else { throw NudgeError.validation(key, "\(key) must be an integer.") }
            return .value(Int(n))
        default: throw NudgeError.validation(key, "\(key) must be an integer.")
        }
    }

    package func decode<T: Decodable>(_ key: String, as: T.Type) throws -> PatchField<T> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case let v?:
            do {
                return .value(try JSONCoding.decoder.decode(T.self, from: JSONCoding.encoder.encode(v)))
            } catch let e as DecodingError {
                var mapped = JSONCoding.map(e)
                mapped.field = mapped.field.map { $0.isEmpty ? key : key + ($0.hasPrefix("[") ? "" : ".") + $0 } ?? key
                mapped.message = "\(mapped.field!) is invalid: \(mapped.message)"
                throw mapped
            }
        }
    }
}

extension JSONValue {
    /// 422 when one of `keys` is `null` in this object: PATCH fields the document types without
    /// null cannot be cleared, and silently ignoring the null would hide the caller's mistake.
    package func rejectNull(_ keys: String...) throws {
        guard case .object(let o) = self else { return }
        for key in keys where o[key] == .null {
            throw NudgeError.validation(key, "\(key) cannot be null; leave it out to keep the current value.")
        }
    }
}
