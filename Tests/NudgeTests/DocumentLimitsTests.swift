import Foundation
import HTTPTypes
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Testing

/// Every limit that `docs/openapi.json` puts on what a client sends (`minLength`/`maxLength`,
/// `minItems`/`maxItems`, `maxProperties`, `minimum`/`maximum`) is tried at the limit and one past
/// it, and the server must accept or refuse exactly as the document says. Strings are built from
/// combining marks, emoji with modifiers and ZWJ sequences, and astral characters, whose lengths
/// in grapheme clusters, UTF-16 units and bytes all differ from their length in code points (the
/// unit JSON Schema counts). The limited fields come from the document itself; the test fails if
/// any of them is not reached by one of the request shapes below.
@Suite struct DocumentLimitsTests {
    @Test func everyDocumentedLimitHoldsExactly() async throws {
        let doc = try OpenAPIDocument.load()
        try await Harness.run(llm: LLMSettings(url: "http://127.0.0.1:9/v1", model: "x", apiKey: nil)) { h in
            let shapes = try await RequestShape.all(h)
            var reached = Set<String>()
            var tried = 0
            for shape in shapes {
                let schema = try doc.requestSchema(shape.method, shape.template)
                var probe = LimitProbe(doc: doc, harness: h, shape: shape)
                try await probe.walk(shape.body(), schema: schema, path: [])
                reached.formUnion(probe.reached)
                tried += probe.tried
            }
            for param in RequestShape.parameters(h) {
                var probe = LimitProbe(doc: doc, harness: h, shape: param.shape)
                try await probe.parameter(param.name, param.in, schema: try doc.parameterSchema(param.shape.method, param.shape.template, param.name))
                reached.formUnion(probe.reached)
                tried += probe.tried
            }
            let limited = doc.limitedRequestLocations()
            #expect(!limited.isEmpty)
            let missing = limited.subtracting(reached).sorted()
            #expect(missing.isEmpty, "limited fields of the document no request shape reaches: \(missing)")
            print("DocumentLimitsTests: \(reached.count) limited locations, \(tried) requests")
        }
    }
}

/// One way to call an operation with a valid body; `body` makes a fresh one each time (unique
/// addresses), so repeated calls do not collide.
struct RequestShape: Sendable {
    let method: HTTPRequest.Method
    let template: String  // the document's path
    let path: String  // the concrete path to call
    let body: @Sendable () -> JSONValue

    static func unique() -> String { Fixture.suffix() + Fixture.suffix() }

    static func all(_ h: Harness) async throws -> [RequestShape] {
        let inbox = try await h.inbox()
        let contact = try await h.contact(Fixture.address(), inbox: inbox).id
        let sequence = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: "[\(Fixture.step(days: 1, subject: "Hi"))]")).id
        let token = try await h.call(.post, "/v1/tokens/", #"{"name": "limits", "scopes": ["contacts:read"]}"#).id
        // A public address literal (no DNS in tests) and a type no request here makes: nothing is sent.
        let hook: JSONValue = .object(["url": "http://93.184.215.14/hook", "event_types": ["webhook.disabled"], "description": "CRM sync"])
        let webhook = try await h.call(.post, "/v1/webhooks/", hook.serialized).id
        let raw =
            "From: Avery <avery-\(unique())@example.com>\r\nTo: x@acme.test\r\nSubject: Proposal\r\nMessage-ID: <\(unique())@example.com>\r\n\r\nHello.\r\n"
        let inbound = try await h.call(.post, "/v1/inboxes/\(inbox)/messages/inbound/", raw: Array(raw.utf8))
        let message = inbound["message_id"]?.string ?? ""
        let thread = inbound["thread_id"]?.string ?? ""
        #expect(inbound.status == 202 || inbound.status == 200, "inbound: \(inbound.body)")

        let step: JSONValue = .object(["delay_days": 1, "delay_hours": 0, "delay_minutes": 0, "subject": "Hi", "body": "Checking in."])
        let promptStep: JSONValue = .object(["subject": "Hi", "prompt": "Write a short follow-up."])
        let reminder: JSONValue = .object(["type": "reminder", "note": "Call them."])
        let source: JSONValue = .object(["message_id": .string(message), "thread_id": .string(thread), "subject": "Re: Proposal"])
        @Sendable func email() -> JSONValue { .string("r-\(unique())@example.com") }
        return [
            .init(method: .post, template: "/v1/tokens", path: "/v1/tokens/") {
                .object(["name": "agent", "scopes": ["contacts:read"]])
            },
            .init(method: .patch, template: "/v1/tokens/{id}", path: "/v1/tokens/\(token)/") {
                .object(["name": "agent", "scopes": ["contacts:read"]])
            },
            .init(method: .post, template: "/v1/inboxes", path: "/v1/inboxes/") {
                .object([
                    "address": .string("in-\(unique())@acme.test"), "display_name": "Sales", "timezone": "UTC", "daily_send_limit": 100,
                    "send_window": .object(["days": ["mon", "tue"], "start": "09:00", "end": "17:00"]),
                ])
            },
            .init(method: .patch, template: "/v1/inboxes/{id}", path: "/v1/inboxes/\(inbox)/") {
                .object(["display_name": "Sales", "daily_send_limit": 100])
            },
            .init(method: .post, template: "/v1/contacts", path: "/v1/contacts/") {
                .object([
                    "inbox_id": .string(inbox), "full_name": "Avery Chen", "notes": "Met at the fair.", "labels": ["lead"],
                    "emails": [.object(["label": "work", "address": email()])], "fields": .object(["company": "Acme"]),
                ])
            },
            .init(method: .patch, template: "/v1/contacts/{id}", path: "/v1/contacts/\(contact)/") {
                .object([
                    "inbox_id": .string(inbox), "full_name": "Avery Chen", "notes": "Met at the fair.", "labels": ["lead"],
                    "emails": [.object(["label": "work", "address": email()])], "fields": .object(["company": "Acme"]),
                ])
            },
            .init(method: .post, template: "/v1/contacts/{id}/labels", path: "/v1/contacts/\(contact)/labels/") {
                .object(["add": ["lead"], "remove": ["old"]])
            },
            .init(method: .post, template: "/v1/sequences", path: "/v1/sequences/") {
                .object([
                    "name": "Follow-up", "sender_inbox_id": .string(inbox), "emails": [step], "exit_condition_prompt": "They said no.",
                    "ooo_default_days": 7,
                ])
            },
            .init(method: .post, template: "/v1/sequences", path: "/v1/sequences/") {
                .object(["name": "Written", "sender_inbox_id": .string(inbox), "emails": [promptStep, reminder]])
            },
            .init(method: .patch, template: "/v1/sequences/{id}", path: "/v1/sequences/\(sequence)/") {
                .object([
                    "name": "Follow-up", "sender_inbox_id": .string(inbox), "emails": [step], "exit_condition_prompt": "They said no.",
                    "ooo_default_days": 7,
                ])
            },
            .init(method: .post, template: "/v1/sequences/enrollments", path: "/v1/sequences/enrollments/") {
                .object([
                    "inbox_id": .string(inbox), "sequence_id": .string(sequence), "recipient": .object(["email": email()]),
                    "source": source, "exit_condition_prompt": "They said no.",
                ])
            },
            .init(method: .post, template: "/v1/sequences/enrollments", path: "/v1/sequences/enrollments/") {
                .object(["inbox_id": .string(inbox), "recipient": .object(["contact_id": .string(contact)]), "emails": [step]])
            },
            .init(method: .post, template: "/v1/sequences/{id}/preview", path: "/v1/sequences/\(sequence)/preview/") {
                .object(["inbox_id": .string(inbox), "recipient": .object(["email": email()]), "source": source])
            },
            .init(method: .post, template: "/v1/workflow-rules", path: "/v1/workflow-rules/") {
                .object([
                    "inbox_id": .string(inbox), "trigger": .object(["type": "label_added", "label": .string("l-\(unique())")]),
                    "action": .object(["type": "enroll", "sequence_id": .string(sequence)]),
                ])
            },
            .init(method: .post, template: "/v1/suppressions", path: "/v1/suppressions/") {
                .object(["email": email(), "reason": "manual", "detail": "Asked by phone."])
            },
            .init(method: .post, template: "/v1/webhooks", path: "/v1/webhooks/") { hook },
            .init(method: .patch, template: "/v1/webhooks/{id}", path: "/v1/webhooks/\(webhook)/") { hook },
            .init(method: .post, template: "/v1/_clock/advance", path: "/v1/_clock/advance/") { .object(["seconds": 1]) },
            .init(method: .post, template: "/v1/domains", path: "/v1/domains/") {
                .object(["domain": .string("d\(unique()).test"), "selector": "s1"])
            },
        ]
    }

    /// Parameters with limits: each tried on an operation that has it.
    static func parameters(_ h: Harness) -> [(name: String, in: String, shape: RequestShape)] {
        let get = { (template: String, path: String) in RequestShape(method: .get, template: template, path: path) { .null } }
        return [
            ("limit", "query", get("/v1/tokens", "/v1/tokens/")),
            ("cursor", "query", get("/v1/tokens", "/v1/tokens/")),
            ("email", "query", get("/v1/contacts", "/v1/contacts/")),
            (
                "Idempotency-Key", "header",
                RequestShape(method: .post, template: "/v1/suppressions", path: "/v1/suppressions/") {
                    .object(["email": .string("k-\(unique())@example.com"), "reason": "manual"])
                }
            ),
        ]
    }
}

/// Walks a request body alongside its schema; at every limited location it sends the values at
/// and past the limit and checks the answers.
struct LimitProbe {
    let doc: OpenAPIDocument
    let harness: Harness
    let shape: RequestShape
    var reached = Set<String>()
    var tried = 0

    enum PathPart {
        case key(String)
        case index(Int)
    }

    /// The server's name for a field: `emails[0].subject`, `fields.company`.
    static func param(_ path: [PathPart]) -> String {
        var out = ""
        for part in path {
            switch part {
            case .key(let k): out += out.isEmpty ? k : ".\(k)"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    mutating func walk(_ value: JSONValue, schema ref: OpenAPIDocument.Node, path: [PathPart]) async throws {
        let node = doc.resolve(ref)
        if !path.isEmpty { try await probe(value, node: node, path: path) }
        switch value {
        case .object(let o):
            for (k, v) in o.sorted(by: { $0.key < $1.key }) {
                if let p = node.property(k) {
                    try await walk(v, schema: p, path: path + [.key(k)])
                } else if let a = node.child("additionalProperties") {
                    try await walk(v, schema: a, path: path + [.key(k)])
                }
            }
        case .array(let a):
            // Every item, for shapes whose items differ (an email step and a reminder); a location
            // already tried in this shape is not tried again.
            if let items = node.child("items") {
                for (i, item) in a.enumerated() { try await walk(item, schema: items, path: path + [.index(i)]) }
            }
        default: break
        }
    }

    /// Tries the limits of the value at `path` (given in the base body as `value`).
    mutating func probe(_ value: JSONValue, node: OpenAPIDocument.Node, path: [PathPart]) async throws {
        guard node.hasLimits, reached.insert(node.location).inserted else { return }
        let param = Self.param(path)
        for candidate in Candidates.values(for: node, base: value, field: path) {
            let verdict = node.accepts(candidate.value)
            let reply = try await send(replacing: path, with: candidate.value)
            try check(reply, verdict: verdict, candidate: candidate, param: param, lengthOnly: candidate.lengthOnly)
        }
    }

    mutating func parameter(_ name: String, _ location: String, schema ref: OpenAPIDocument.Node) async throws {
        let node = doc.resolve(ref)
        guard node.hasLimits else { return }
        reached.insert(node.location)
        for candidate in Candidates.values(for: node, base: .string("x"), field: [.key(name)]) {
            guard case .string(let s) = candidate.value else {
                guard case .number(let n) = candidate.value else { continue }
                let reply = try await sendParameter(name, location, String(Int(n)))
                try check(reply, verdict: node.accepts(candidate.value), candidate: candidate, param: name, lengthOnly: candidate.lengthOnly)
                continue
            }
            let reply = try await sendParameter(name, location, s)
            try check(reply, verdict: node.accepts(candidate.value), candidate: candidate, param: name, lengthOnly: candidate.lengthOnly)
        }
    }

    private mutating func check(_ reply: Reply, verdict: Bool, candidate: Candidates.Value, param: String, lengthOnly: Bool) throws {
        tried += 1
        let what = "\(shape.method) \(shape.template) \(param) = \(candidate.label): \(reply.status) \(reply.body.prefix(300))"
        if verdict {
            if candidate.mustSucceed {
                #expect((200..<300).contains(reply.status), "the document accepts it; the server refused: \(what)")
            } else {
                // An id or cursor of the right shape that names nothing: refused, but not for its length.
                #expect(reply.status < 500 && !reply.errorMessage.contains("at most"), "refused for its length: \(what)")
            }
        } else {
            #expect((400..<500).contains(reply.status), "the document refuses it; the server answered: \(what)")
            if lengthOnly {
                #expect(reply.status == 422 && reply.errorParam == param, "expected 422 naming \(param): \(what)")
            }
        }
    }

    private func send(replacing path: [PathPart], with value: JSONValue) async throws -> Reply {
        let body = Self.replace(shape.body(), path[...], with: value)
        return try await harness.call(shape.method, shape.path, body.serialized)
    }

    private func sendParameter(_ name: String, _ location: String, _ value: String) async throws -> Reply {
        let base = shape.body()
        let json: String? = base == .null ? nil : base.serialized
        if location == "header" {
            guard let field = HTTPField.Name(name) else { throw CancellationError() }
            var headers = HTTPFields()
            headers[field] = value
            return try await harness.call(shape.method, shape.path, json, headers: headers)
        }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&+=#")
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        return try await harness.call(shape.method, "\(shape.path)?\(name)=\(encoded)", json)
    }

    static func replace(_ base: JSONValue, _ path: ArraySlice<PathPart>, with value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        switch (first, base) {
        case (.key(let k), .object(var o)):
            o[k] = replace(o[k] ?? .null, path.dropFirst(), with: value)
            return .object(o)
        case (.index(let i), .array(var a)) where i < a.count:
            a[i] = replace(a[i], path.dropFirst(), with: value)
            return .array(a)
        default: return base
        }
    }
}

/// The values tried at a limited location.
enum Candidates {
    struct Value {
        let label: String
        let value: JSONValue
        /// Only a length (or count, or bound) is wrong, so the answer must be a 422 naming the field.
        var lengthOnly = false
        /// At the limit and valid by the document: the server must accept (2xx). False for ids and
        /// cursors, which can be of the right shape and still name nothing.
        var mustSucceed = true
    }

    /// Strings of exactly `n` code points whose other lengths differ.
    static let styles: [(String, @Sendable (Int) -> String)] = [
        ("combining marks", { n in n == 0 ? "" : "e" + String(repeating: "\u{0301}", count: n - 1) }),
        (
            "emoji with modifiers and ZWJ",
            { n in
                let unit = "\u{1F44D}\u{1F3FD}\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"  // 9 code points
                let whole = String(repeating: unit, count: n / 9)
                return whole + String(repeating: "\u{1F600}", count: n % 9)
            }
        ),
        ("astral characters", { n in String(repeating: "\u{1D49C}", count: n) }),
    ]

    static func values(for node: OpenAPIDocument.Node, base: JSONValue, field: [LimitProbe.PathPart]) -> [Value] {
        var out: [Value] = []
        let name: String = {
            if case .key(let k)? = field.last { return k }
            if field.count >= 2, case .key(let k) = field[field.count - 2] { return k }
            return ""
        }()
        if let max = node.int("maxLength") {
            switch node.stringKind(name) {
            case .email:
                out.append(Value(label: "an address of \(max) characters", value: .string(address(length: max))))
                out.append(Value(label: "an address of \(max + 1) characters", value: .string(address(length: max + 1)), lengthOnly: true))
                for (label, make) in styles { out.append(Value(label: "\(label) x\(max)", value: .string(make(max)))) }
            case .identifier(let prefix):
                let id = { (n: Int) in prefix + String(repeating: "A", count: Swift.max(1, n - prefix.count)) }
                out.append(Value(label: "an id of \(max)", value: .string(id(max)), mustSucceed: false))
                out.append(Value(label: "an id of \(max + 1)", value: .string(id(max + 1)), lengthOnly: true))
                for (label, make) in styles { out.append(Value(label: "\(label) x\(max)", value: .string(make(max)))) }
            case .ascii:
                let key = { (n: Int) in "k" + RequestShape.unique() + String(repeating: "K", count: n - 17) }
                out.append(Value(label: "\(max) visible ASCII", value: .string(key(max))))
                out.append(Value(label: "\(max + 1) visible ASCII", value: .string(key(max + 1)), lengthOnly: true))
                for (label, make) in styles { out.append(Value(label: "\(label) x\(max)", value: .string(make(max)))) }
            case .opaque:
                out.append(Value(label: "\(max) characters", value: .string(String(repeating: "Q", count: max)), mustSucceed: false))
                for (label, make) in styles {
                    out.append(Value(label: "\(label) x\(max + 1)", value: .string(make(max + 1)), lengthOnly: false))
                }
            case .text:
                for (label, make) in styles {
                    out.append(Value(label: "\(label) x\(max)", value: .string(make(max))))
                    out.append(Value(label: "\(label) x\(max + 1)", value: .string(make(max + 1)), lengthOnly: true))
                }
            }
        }
        if let min = node.int("minLength"), min > 0 {
            out.append(Value(label: "\(min - 1) characters", value: .string(String(repeating: "x", count: min - 1)), lengthOnly: true))
            if node.int("maxLength") == nil {
                for (label, make) in styles { out.append(Value(label: "\(label) x\(min)", value: .string(make(min)))) }
            }
        }
        if let max = node.int("maxItems") {
            out.append(Value(label: "\(max) items", value: .array(items(base, count: max))))
            out.append(Value(label: "\(max + 1) items", value: .array(items(base, count: max + 1)), lengthOnly: true))
        }
        if let min = node.int("minItems"), min > 0 {
            out.append(Value(label: "\(min) items", value: .array(items(base, count: min))))
            out.append(Value(label: "\(min - 1) items", value: .array(items(base, count: min - 1)), lengthOnly: true))
        }
        if let max = node.int("maxProperties") {
            let props = { (n: Int) in JSONValue.object(Dictionary(uniqueKeysWithValues: (0..<n).map { ("f\($0)", JSONValue.string("v")) })) }
            out.append(Value(label: "\(max) properties", value: props(max)))
            out.append(Value(label: "\(max + 1) properties", value: props(max + 1), lengthOnly: true))
        }
        let integer = node.types.contains("integer")
        if let max = node.number("maximum") {
            out.append(Value(label: "maximum \(max)", value: .number(max)))
            out.append(Value(label: "past the maximum", value: .number(integer ? max + 1 : max + 0.5), lengthOnly: true))
        }
        if let min = node.number("minimum") {
            out.append(Value(label: "minimum \(min)", value: .number(min)))
            out.append(Value(label: "under the minimum", value: .number(integer ? min - 1 : min - 0.5), lengthOnly: true))
        }
        return out
    }

    /// `count` valid items like the base array's first one (addresses and labels made unique).
    static func items(_ base: JSONValue, count: Int) -> [JSONValue] {
        guard let first = base.items.first else { return [] }
        return (0..<count).map { i in
            switch first {
            case .string(let s) where s.contains("@"): return .string("i\(i)-\(RequestShape.unique())@example.com")
            case .string(let s) where s.hasPrefix("l") || s == "lead" || s == "old": return .string("\(s)-\(i)")
            case .object(var o) where o["address"] != nil:
                o["address"] = .string("i\(i)-\(RequestShape.unique())@example.com")
                return .object(o)
            default: return first
            }
        }
    }

    /// A syntactically valid, unique address of exactly `length` characters (a 64-character local
    /// part, labels of at most 63).
    static func address(length: Int) -> String {
        let local = "a" + RequestShape.unique() + String(repeating: "a", count: 64 - 17)
        var domain = ".example.com"
        var remaining = length - local.count - 1 - domain.count
        var labels: [String] = []
        while remaining > 0 {
            let take = Swift.min(63, remaining - (remaining > 63 ? 1 : 0))
            let n = Swift.max(1, remaining > 64 ? 62 : take)
            labels.append(String(repeating: "d", count: n))
            remaining -= n + 1
        }
        domain = labels.joined(separator: ".") + domain
        if remaining < -1 { domain.removeFirst(-remaining - 1) }
        var out = local + "@" + (labels.isEmpty ? String(domain.dropFirst()) : domain)
        while out.count > length, let i = out.firstIndex(of: "@") { out.remove(at: out.index(before: i)) }
        while out.count < length { out = "b" + out }
        return out
    }
}

/// `docs/openapi.json`, read with the product's own JSON tree.
struct OpenAPIDocument: Sendable {
    let root: JSONValue

    struct Node: Sendable {
        let location: String
        let schema: JSONValue

        func child(_ key: String) -> Node? { schema[key].map { Node(location: "\(location)/\(key)", schema: $0) } }
        func property(_ key: String) -> Node? {
            schema["properties"]?[key].map { Node(location: "\(location)/properties/\(key)", schema: $0) }
        }
        func int(_ key: String) -> Int? { schema[key]?.number.map { Int($0) } }
        func number(_ key: String) -> Double? { schema[key]?.number }
        var types: [String] {
            if let s = schema["type"]?.string { return [s] }
            return schema["type"]?.items.compactMap(\.string) ?? []
        }
        var hasLimits: Bool {
            ["minLength", "maxLength", "minItems", "maxItems", "maxProperties", "minimum", "maximum"].contains { schema[$0] != nil }
                && !(int("minLength") == 0 && schema["maxLength"] == nil)
        }

        enum StringKind {
            case text, email
            case identifier(String)
            case ascii, opaque
        }
        func stringKind(_ name: String) -> StringKind {
            if schema["format"]?.string == "email" || ["address", "email", "from_address"].contains(name) { return .email }
            if let p = schema["pattern"]?.string, p.hasPrefix("^"), let u = p.firstIndex(of: "_"), p.contains("[0-9A-Za-z]") {
                return .identifier(String(p[p.index(after: p.startIndex)...u]))
            }
            if schema["pattern"]?.string == "^[!-~]+$" { return .ascii }
            if name == "cursor" { return .opaque }
            return .text
        }

        /// The document's verdict on `value` for the keywords this test varies.
        func accepts(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let s):
                let n = s.unicodeScalars.count
                if let max = int("maxLength"), n > max { return false }
                if let min = int("minLength"), n < min { return false }
                if let p = schema["pattern"]?.string, s.range(of: p, options: .regularExpression) == nil { return false }
                if schema["format"]?.string == "email" {
                    return s.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 } && s.contains("@")
                }
                return true
            case .array(let a):
                if let max = int("maxItems"), a.count > max { return false }
                if let min = int("minItems"), a.count < min { return false }
                return true
            case .object(let o):
                if let max = int("maxProperties"), o.count > max { return false }
                return true
            case .number(let x):
                if let max = number("maximum"), x > max { return false }
                if let min = number("minimum"), x < min { return false }
                return true
            default: return true
            }
        }
    }

    static func load() throws -> OpenAPIDocument {
        let url = TestCluster.packageRoot.appendingPathComponent("docs/openapi.json")
        guard let root = JSONValue.parse(try String(contentsOf: url, encoding: .utf8)) else { throw CancellationError() }
        return OpenAPIDocument(root: root)
    }

    func pointer(_ ref: String) -> Node {
        var v: JSONValue = root
        for part in ref.dropFirst(2).split(separator: "/") { v = v[String(part).replacingOccurrences(of: "~1", with: "/")] ?? .null }
        return Node(location: ref, schema: v)
    }

    func resolve(_ node: Node) -> Node {
        var n = node
        while let ref = n.schema["$ref"]?.string { n = pointer(ref) }
        return n
    }

    func operation(_ method: HTTPRequest.Method, _ template: String) -> JSONValue {
        root["paths"]?[template]?[method.rawValue.lowercased()] ?? .null
    }

    func requestSchema(_ method: HTTPRequest.Method, _ template: String) throws -> Node {
        let esc = template.replacingOccurrences(of: "/", with: "~1")
        let loc = "#/paths/\(esc)/\(method.rawValue.lowercased())/requestBody/content/application~1json/schema"
        let node = pointer(loc)
        try #require(node.schema != .null, "no JSON request body documented for \(method) \(template)")
        return node
    }

    func parameterSchema(_ method: HTTPRequest.Method, _ template: String, _ name: String) throws -> Node {
        for p in operation(method, template)["parameters"]?.items ?? [] {
            let param = resolve(Node(location: "", schema: p))
            if param.schema["name"]?.string == name, let s = param.child("schema") { return s }
        }
        try #require(Bool(false), "\(method) \(template) has no parameter \(name)")
        throw CancellationError()
    }

    /// The locations of every limited schema reachable from a request body or a query or header
    /// parameter of any operation.
    func limitedRequestLocations() -> Set<String> {
        var out = Set<String>()
        var seen = Set<String>()
        func visit(_ ref: Node) {
            let node = resolve(ref)
            guard seen.insert(node.location).inserted else { return }
            if node.hasLimits { out.insert(node.location) }
            for (k, _) in node.schema["properties"]?.objectEntries ?? [] { if let p = node.property(k) { visit(p) } }
            for key in ["items", "additionalProperties"] { if let c = node.child(key), c.schema.objectEntries != nil { visit(c) } }
        }
        for (path, item) in root["paths"]?.objectEntries ?? [] {
            let esc = path.replacingOccurrences(of: "/", with: "~1")
            for (method, op) in item.objectEntries ?? [] {
                for (type, _) in op["requestBody"]?["content"]?.objectEntries ?? [] where type == "application/json" {
                    visit(
                        Node(
                            location: "#/paths/\(esc)/\(method)/requestBody/content/application~1json/schema",
                            schema: op["requestBody"]?["content"]?[type]?["schema"] ?? .null))
                }
                for p in op["parameters"]?.items ?? [] {
                    let param = resolve(Node(location: "", schema: p))
                    guard ["query", "header"].contains(param.schema["in"]?.string ?? ""), let s = param.child("schema") else { continue }
                    visit(s)
                }
            }
        }
        return out
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue {
    var objectEntries: [(String, JSONValue)]? {
        if case .object(let o) = self { return o.sorted { $0.key < $1.key } }
        return nil
    }
}
