import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

/// `/v1/webhooks/`: endpoints that receive the organization's events as they happen (README,
/// "Webhooks"). An endpoint carries only event types its creator's token could read in the feed
/// (`EventsAPI.scope(of:)`): the types are checked against the token when they are set (create,
/// PATCH), and "all" (`event_types` absent or `["*"]`) is stored as the list of those types.
package struct WebhooksAPI {
    package let store: WebhookStore
    package let secrets: WebhookSecrets
    package let clock: any NudgeClock
    package let allowHTTP: Bool
    package let allowPrivate: Bool
    /// How long a secret keeps signing after a rotation retired it, and how many retired secrets
    /// sign at most (the newest: each adds a signature to every delivery's header).
    package static let rotationOverlap: TimeInterval = 24 * 3600
    package static let retiredSecretsSigning = 10

    package struct CreateBody: Decodable {
        let url: String?
        let event_types: [String]?
        let description: String?
    }
    /// The endpoint with its new secret, shown this once.
    package struct WithSecret: Encodable {
        let webhook: WebhookRecord
        let secret: String
        enum Key: String, CodingKey { case secret }
        package func encode(to encoder: any Encoder) throws {
            try webhook.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(secret, forKey: .secret)
        }
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/webhooks", .webhooksWrite) { req, ctx in
            let b = try await JSONCoding.decode(CreateBody.self, from: req)
            let url = try await checkedURL(b.url)
            let types = try eventTypes(b.event_types ?? ["*"], ctx.token.scopes)
            if let d = b.description { try Validate.text(d, "description", max: 500) }
            let id = ID.make(.whk)
            let secret = WebhookSecrets.generate()
            let record = try await store.create(
                org: ctx.org, id: id, url: url, description: b.description, types: types,
                sealedSecret: try secrets.seal(secret, org: ctx.org, webhookID: id), now: clock.now())
            return try JSONCoding.response(WithSecret(webhook: record, secret: secret), status: .created)
        }
        r.get("/v1/webhooks", .webhooksRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/webhooks/:id", .webhooksRead) { _, ctx in
            guard let w = try await store.get(org: ctx.org, id: try ctx.id("id", .whk, what: "webhook")) else { throw NudgeError.notFound("webhook") }
            return try JSONCoding.response(w)
        }
        r.patch("/v1/webhooks/:id", .webhooksWrite) { req, ctx in
            let id = try ctx.id("id", .whk, what: "webhook")
            let json = try await JSONCoding.decode(JSONValue.self, from: req)
            try json.rejectNull("url", "event_types", "disabled")
            let body = try PatchBody(json)
            var url: String?
            if case .value(let u) = try body.string("url") { url = try await checkedURL(u) }
            var types: [String]?
            if case .value(let t) = try body.decode("event_types", as: [String].self) { types = try eventTypes(t, ctx.token.scopes) }
            var disabled: Bool?
            if case .value(let d) = try body.decode("disabled", as: Bool.self) { disabled = d }
            // An explicit null clears the description; absent leaves it.
            let description = try body.string("description").update
            if case .some(.some(let s)) = description { try Validate.text(s, "description", max: 500) }
            guard
                let w = try await store.update(
                    org: ctx.org, id: id, url: url, description: description, types: types, disabled: disabled, now: clock.now())
            else { throw NudgeError.notFound("webhook") }
            return try JSONCoding.response(w)
        }
        r.delete("/v1/webhooks/:id", .webhooksWrite) { _, ctx in
            guard let w = try await store.delete(org: ctx.org, id: try ctx.id("id", .whk, what: "webhook")) else {
                throw NudgeError.notFound("webhook")
            }
            return try JSONCoding.response(w)
        }
        r.post("/v1/webhooks/:id/rotate-secret", .webhooksWrite) { _, ctx in
            let id = try ctx.id("id", .whk, what: "webhook")
            let secret = WebhookSecrets.generate()
            let now = clock.now()
            guard
                let w = try await store.rotate(
                    org: ctx.org, id: id, sealedSecret: try secrets.seal(secret, org: ctx.org, webhookID: id),
                    until: now.addingTimeInterval(Self.rotationOverlap), keep: Self.retiredSecretsSigning, now: now)
            else { throw NudgeError.notFound("webhook") }
            return try JSONCoding.response(WithSecret(webhook: w, secret: secret))
        }
        r.post("/v1/webhooks/:id/test", .webhooksWrite) { _, ctx in
            guard let d = try await store.queueTest(org: ctx.org, webhookID: try ctx.id("id", .whk, what: "webhook"), now: clock.now()) else {
                throw NudgeError.notFound("webhook")
            }
            return try JSONCoding.response(d, status: .accepted)
        }
        r.get("/v1/webhooks/:id/deliveries", .webhooksRead) { req, ctx in
            let id = try ctx.id("id", .whk, what: "webhook")
            guard let page = try await store.deliveries(org: ctx.org, webhookID: id, page: PageRequest(req)) else {
                throw NudgeError.notFound("webhook")
            }
            return try JSONCoding.response(page)
        }
        r.post("/v1/webhooks/:id/deliveries/:delivery_id/retry", .webhooksWrite) { _, ctx in
            let id = try ctx.id("id", .whk, what: "webhook")
            let delivery = try ctx.id("delivery_id", .whd, what: "delivery")
            guard let d = try await store.retry(org: ctx.org, webhookID: id, deliveryID: delivery, now: clock.now()) else {
                throw NudgeError.notFound("delivery")
            }
            return try JSONCoding.response(d, status: .accepted)
        }
    }

    /// The URL as given, once its scheme is allowed and every address its host resolves to is one
    /// a webhook may reach (checked again before each attempt: `WebhookAddress`).
    private func checkedURL(_ url: String?) async throws -> String {
        guard let url else { throw NudgeError.validation("url", "url is required.") }
        _ = try await WebhookAddress.checked(url, allowHTTP: allowHTTP, allowPrivate: allowPrivate)
        return url
    }

    /// `["*"]` is every type the token can read; otherwise each must be known and readable.
    private func eventTypes(_ raw: [String], _ scopes: ScopeSet) throws -> [String] {
        let readable = EventType.allCases.filter { scopes.allows(EventsAPI.scope(of: $0)) }
        if raw == ["*"] {
            guard !readable.isEmpty else { throw NudgeError.validation("event_types", "This token can read no event types.") }
            return readable.map(\.rawValue)
        }
        guard !raw.isEmpty, raw.count <= EventType.allCases.count else {
            throw NudgeError.validation("event_types", "event_types must list 1 to \(EventType.allCases.count) event types, or be [\"*\"].")
        }
        var out: [String] = []
        for (i, name) in raw.enumerated() {
            guard let t = EventType(rawValue: name) else {
                throw NudgeError.validation(
                    "event_types[\(i)]", "Unknown event type; known: \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            guard readable.contains(t) else {
                throw NudgeError.validation(
                    "event_types[\(i)]", "This token cannot read \(name) events (it needs \(EventsAPI.scope(of: t).rawValue)).")
            }
            if !out.contains(name) { out.append(name) }
        }
        return out
    }

    package init(store: WebhookStore, secrets: WebhookSecrets, clock: any NudgeClock, allowHTTP: Bool, allowPrivate: Bool) {
        self.store = store
        self.secrets = secrets
        self.clock = clock
        self.allowHTTP = allowHTTP
        self.allowPrivate = allowPrivate
    }
}
