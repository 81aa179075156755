import Foundation
import NudgeCore

/// Input schemas built from `docs/openapi.json`, the one source of truth: a tool's properties are
/// its operation's path and query parameters (every one the document declares, so a filter added to
/// the document appears in the tool) and the properties of its request body's component; nested
/// components come along as `$defs`. `idempotency_key` stands for the `Idempotency-Key` header.
package struct OpenAPISchemas: Sendable {
    package let document: JSONValue

    package init(document: JSONValue) {
        self.document = document
    }

    package init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let doc = try? JSONCoding.decoder.decode(JSONValue.self, from: data)
        else { throw SchemaError("the OpenAPI document at \(path) is missing or not JSON") }
        self.init(document: doc)
    }

    package struct SchemaError: Error, CustomStringConvertible {
        package let description: String
        package init(_ d: String) { description = d }
    }

    /// A parameter of an operation: where it goes in the request.
    package struct Parameter: Sendable {
        package enum Place: String, Sendable { case path, query, header }
        package let name: String
        package let place: Place
        package let schema: JSONValue
        package let required: Bool
    }

    /// Everything a tool needs from one operation.
    package struct Operation: Sendable {
        package let parameters: [Parameter]
        /// The body component's properties and required names, if the operation takes JSON.
        package let bodyProperties: [String: JSONValue]
        package let bodyRequired: [String]
        package let bodyDescription: String?
        package let summary: String?
        package var takesIdempotencyKey: Bool { parameters.contains { $0.place == .header && $0.name == "Idempotency-Key" } }
    }

    /// `key` as in `RouteTable.Operation.key`: `POST /v1/contacts/{id}/labels`.
    package func operation(_ key: String) throws -> Operation {
        let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let op = document["paths"]?[parts[1]]?[parts[0].lowercased()] else {
            throw SchemaError("\(key) is not in the OpenAPI document")
        }
        var params: [Parameter] = []
        for raw in op["parameters"]?.array ?? [] {
            let p = try resolve(raw)
            guard let name = p["name"]?.string, let place = p["in"]?.string.flatMap(Parameter.Place.init) else { continue }
            var schema = p["schema"] ?? .object([:])
            if let d = p["description"], case .object(var o) = schema, o["description"] == nil {
                o["description"] = d
                schema = .object(o)
            }
            params.append(Parameter(name: name, place: place, schema: schema, required: p["required"]?.bool ?? false))
        }
        var props: [String: JSONValue] = [:]
        var required: [String] = []
        var bodyDescription: String?
        if let schema = op["requestBody"]?["content"]?["application/json"]?["schema"] {
            let body = try resolve(schema)
            props = body["properties"]?.objectValue ?? [:]
            required = (body["required"]?.array ?? []).compactMap(\.string)
            bodyDescription = body["description"]?.string
        }
        return Operation(
            parameters: params, bodyProperties: props, bodyRequired: required, bodyDescription: bodyDescription, summary: op["summary"]?.string)
    }

    /// A component by name (`EnrollmentRecipient`).
    package func component(_ name: String) throws -> JSONValue {
        guard let c = document["components"]?["schemas"]?[name] else { throw SchemaError("no component \(name)") }
        return c
    }

    /// A `$ref` to a component (of any section) resolved one level; anything else as it is.
    package func resolve(_ value: JSONValue) throws -> JSONValue {
        guard let ref = value["$ref"]?.string else { return value }
        guard ref.hasPrefix("#/") else { throw SchemaError("external $ref \(ref)") }
        var node: JSONValue? = document
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        guard let found = node else { throw SchemaError("$ref \(ref) names nothing") }
        return try resolve(found)
    }

    /// `schema` made self-contained: `#/components/schemas/X` becomes `#/$defs/X` and every
    /// component it reaches is returned in `defs`. A reference into a property (not a component)
    /// is refused: item 6 of the MCP issue, and `ops/test`'s generated client, forbid them.
    package func localize(_ schema: JSONValue, into defs: inout [String: JSONValue]) throws -> JSONValue {
        switch schema {
        case .object(var o):
            if let ref = o["$ref"]?.string {
                let prefix = "#/components/schemas/"
                guard ref.hasPrefix(prefix), !ref.dropFirst(prefix.count).contains("/") else {
                    throw SchemaError("$ref \(ref) is not a component")
                }
                let name = String(ref.dropFirst(prefix.count))
                o["$ref"] = .string("#/$defs/\(name)")
                if defs[name] == nil {
                    defs[name] = .null  // claimed first: a recursive component ends here
                    defs[name] = try localize(try component(name), into: &defs)
                }
                return .object(o)
            }
            var out: [String: JSONValue] = [:]
            for (k, v) in o { out[k] = try localize(v, into: &defs) }
            return .object(out)
        case .array(let a):
            return .array(try a.map { try localize($0, into: &defs) })
        default:
            return schema
        }
    }
}

extension JSONValue {
    package var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    package var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }
}
