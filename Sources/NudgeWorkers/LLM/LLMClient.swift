import Foundation
import NudgeCore
import NudgeStore

/// A chat completion with structured output. The product only ever asks for JSON objects that
/// match a schema; anything else is an error, never text to pass on.
public struct LLMRequest: Sendable {
    public var system: String
    public var user: String
    public var schemaName: String
    public var schema: JSONValue
    public var maxTokens: Int
}

public struct LLMResponse: Sendable {
    public var object: [String: JSONValue]
    public var model: String
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var latency: Duration
}

public enum LLMError: Error, Sendable, CustomStringConvertible {
    /// The endpoint kept failing (5xx, 429, timeouts, refused) through every retry.
    case unavailable(String)
    /// The endpoint answered, but not with an object matching the schema.
    case invalidOutput(String)
    /// The endpoint answered usable text that the output guard refuses (the rule it breaks).
    case refused(String)

    public var description: String {
        switch self {
        case .unavailable(let s): return "llm_unavailable: \(s)"
        case .invalidOutput(let s): return "llm_invalid_output: \(s)"
        case .refused(let s): return "llm_output_refused: \(s)"
        }
    }
}

public protocol LLMClient: Sendable {
    func complete(_ request: LLMRequest) async throws -> LLMResponse
}

/// Checks an object against the small JSON Schema subset the prompts use (type object,
/// properties of type string (with maxLength) or boolean, required, additionalProperties false).
package enum SchemaCheck {
    package static func validate(_ object: [String: JSONValue], against schema: JSONValue) throws {
        guard case .object(let props)? = schema["properties"] else { return }
        var required: [String] = []
        if case .array(let a)? = schema["required"] { required = a.compactMap(\.string) }
        for key in required where object[key] == nil { throw LLMError.invalidOutput("missing \(key)") }
        for (key, value) in object {
            guard let spec = props[key] else { throw LLMError.invalidOutput("unexpected property \(key)") }
            switch (spec["type"]?.string, value) {
            case ("string", .string(let text)):
                if let max = spec["maxLength"]?.number, Double(text.count) > max { throw LLMError.invalidOutput("\(key) is too long") }
            case ("boolean", .bool), ("number", .number): continue
            default: throw LLMError.invalidOutput("\(key) has the wrong type")
            }
        }
    }
}
