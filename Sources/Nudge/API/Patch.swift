import Foundation

/// PATCH bodies distinguish "absent" (leave as is) from `null` (clear) from a value.
enum PatchField<T> {
    case absent
    case null
    case value(T)

    /// nil when absent; .some(nil) when null.
    var update: T?? {
        switch self {
        case .absent: return nil
        case .null: return .some(nil)
        case .value(let v): return .some(v)
        }
    }
}

/// A decoded JSON object with typed, field-naming accessors.
struct PatchBody {
    let fields: [String: JSONValue]

    init(_ value: JSONValue) throws {
        guard case .object(let o) = value else { throw APIError.malformed("Request body must be a JSON object.") }
        fields = o
    }

    func string(_ key: String) throws -> PatchField<String> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case .string(let s)?: return .value(s)
        default: throw APIError.validation(key, "\(key) must be a string.")
        }
    }

    func int(_ key: String) throws -> PatchField<Int> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case .number(let n)?:
            guard n.rounded() == n, abs(n) < 1e9 else { throw APIError.validation(key, "\(key) must be an integer.") }
            return .value(Int(n))
        default: throw APIError.validation(key, "\(key) must be an integer.")
        }
    }

    func decode<T: Decodable>(_ key: String, as: T.Type) throws -> PatchField<T> {
        switch fields[key] {
        case nil: return .absent
        case .null?: return .null
        case let v?:
            do {
                return .value(try JSONCoding.decoder.decode(T.self, from: JSONCoding.encoder.encode(v)))
            } catch let e as DecodingError {
                var mapped = JSONCoding.map(e)
                mapped.param = mapped.param.map { $0.isEmpty ? key : key + ($0.hasPrefix("[") ? "" : ".") + $0 } ?? key
                mapped.message = "\(mapped.param!) is invalid: \(mapped.message)"
                throw mapped
            }
        }
    }
}

extension JSONValue {
    /// 422 when one of `keys` is `null` in this object: PATCH fields the document types without
    /// null cannot be cleared, and silently ignoring the null would hide the caller's mistake.
    func rejectNull(_ keys: String...) throws {
        guard case .object(let o) = self else { return }
        for key in keys where o[key] == .null {
            throw APIError.validation(key, "\(key) cannot be null; leave it out to keep the current value.")
        }
    }
}
