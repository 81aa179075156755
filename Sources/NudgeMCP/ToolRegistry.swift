import Foundation
import HTTPTypes
import MCP
import NudgeCore
import NudgeHTTP

/// One tool: the route it calls (with that route's scopes), how its arguments map onto the request,
/// and its `tools/list` entry, encoded once.
package struct MCPTool: Sendable {
    package let spec: ToolSpec
    package let route: RouteTable.Operation
    package let pathParameters: [String]
    package let queryParameters: [String]
    package let takesIdempotencyKey: Bool
    /// Every argument name the tool takes, with its JSON type where the schema gives one.
    package let argumentTypes: [String: String?]
    package let definition: JSONValue
    /// The tool that reads what this one changes (GET on the same path or its parent), named in
    /// a conflict's advice.
    package var reader: String? = nil

    package var name: String { spec.name }
    /// A token sees and may call the tool only when it holds every scope of its route.
    package func allowed(for scopes: ScopeSet) -> Bool { route.scopes.allSatisfy(scopes.allows) }
}

package struct ToolRegistry: Sendable {
    package let tools: [MCPTool]
    package let byName: [String: MCPTool]

    static let idempotencyKey: JSONValue = .object([
        "type": .string("string"), "minLength": .number(1), "maxLength": .number(255),
        "description": .string(
            "Sent as the API's Idempotency-Key: a retry with the same key and arguments within 24 h answers the first result instead of acting twice."
        ),
    ])

    /// The operations of the route table without a tool decision (must be none).
    package static func undecided(_ operations: [RouteTable.Operation]) -> [String] {
        operations.map(\.key).filter { ToolCatalog.decisions[$0] == nil }
    }

    package init(operations: [RouteTable.Operation], schemas: OpenAPISchemas) throws {
        var tools: [MCPTool] = []
        for route in operations {
            guard let decision = ToolCatalog.decisions[route.key] else {
                throw OpenAPISchemas.SchemaError("\(route.key) has no MCP tool decision in ToolCatalog")
            }
            guard case .tools(let specs) = decision else { continue }
            let op = try schemas.operation(route.key)
            for spec in specs { tools.append(try Self.tool(spec, route, op, schemas)) }
        }
        // GET on the same path, else on the parent (`/v1/drafts/:id` for `/v1/drafts/:id/approve`).
        let readers = Dictionary(tools.filter { $0.route.method == .get }.map { ($0.route.path, $0.name) }, uniquingKeysWith: { a, _ in a })
        for i in tools.indices where tools[i].route.method != .get {
            let path = tools[i].route.path
            tools[i].reader = readers[path] ?? readers[String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])]
        }
        self.tools = tools
        self.byName = Dictionary(tools.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard byName.count == tools.count else { throw OpenAPISchemas.SchemaError("two MCP tools share a name") }
    }

    static func tool(_ spec: ToolSpec, _ route: RouteTable.Operation, _ op: OpenAPISchemas.Operation, _ schemas: OpenAPISchemas) throws -> MCPTool {
        var defs: [String: JSONValue] = [:]
        var properties: [String: JSONValue] = [:]
        var required: [String] = []
        let pathParameters = op.parameters.filter { $0.place == .path }.map(\.name)
        let queryParameters = op.parameters.filter { $0.place == .query }.map(\.name)
        if spec.shape == .sendOne {
            (properties, required) = try SendOne.inputSchema(schemas, defs: &defs)
        } else {
            for p in op.parameters where p.place != .header {
                properties[p.name] = try schemas.localize(p.schema, into: &defs)
                if p.required { required.append(p.name) }
            }
            for (name, schema) in op.bodyProperties where spec.fixed[name] == nil {
                guard properties[name] == nil else { throw OpenAPISchemas.SchemaError("\(spec.name): \(name) is both a parameter and a body field") }
                properties[name] = try schemas.localize(schema, into: &defs)
            }
            required += op.bodyRequired.filter { spec.fixed[$0] == nil }
        }
        if op.takesIdempotencyKey { properties["idempotency_key"] = idempotencyKey }
        var schema: [String: JSONValue] = [
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
        ]
        if !required.isEmpty { schema["required"] = .array(required.sorted().map { .string($0) }) }
        if !defs.isEmpty { schema["$defs"] = .object(defs) }

        var description = spec.description
        if spec.shape == .rest, let body = op.bodyDescription { description += " " + body }
        if spec.mail { description += ToolCatalog.untrustedNote }
        if route.method == .patch || route.method == .delete {
            description += " Repeating the call changes nothing more (idempotent); with the same idempotency_key a retry gets the first answer."
        }
        let sendsMail = route.scopes.contains(.emailSend)
        let tool = Tool(
            name: spec.name, description: description, inputSchema: try Value(JSONValue.object(schema)),
            annotations: .init(
                readOnlyHint: spec.effect == .read, destructiveHint: spec.effect == .destructive,
                idempotentHint: route.method != .post,
                openWorldHint: sendsMail || spec.mail))
        let definition = try JSONCoding.decoder.decode(JSONValue.self, from: JSONCoding.encoder.encode(tool))
        return MCPTool(
            spec: spec, route: route, pathParameters: pathParameters, queryParameters: queryParameters,
            takesIdempotencyKey: op.takesIdempotencyKey,
            argumentTypes: properties.mapValues { p in
                p["type"]?.string ?? p["$ref"]?.string.flatMap { defs[String($0.dropFirst("#/$defs/".count))]?["type"]?.string }
            }, definition: definition)
    }
}
