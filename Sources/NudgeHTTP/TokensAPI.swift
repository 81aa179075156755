import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct TokensAPI {
    package let store: TokenStore
    package let authenticator: TokenAuthenticator
    package let clock: any NudgeClock

    package struct CreateBody: Decodable {
        package let name: String?
        package let scopes: [String]?
        package let expires_at: Date?
        package let send_policy: JSONValue?
    }
    package struct PatchBody: Decodable {
        package let name: String?
        package let scopes: [String]?
    }
    package struct Me: Encodable {
        package let id: String
        package let org_id: String
        package let name: String
        package let scopes: [String]
        package let expires_at: Date?
        /// In force: the organization's defaults under the token's own policy.
        package let send_policy: SendPolicy
        package let policy_version: Int
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/tokens", .admin) { req, ctx in
            let body = try await JSONCoding.decode(CreateBody.self, from: req)
            let name = try Validate.name(body.name, "name")
            guard let raw = body.scopes else { throw NudgeError.validation("scopes", "scopes is required.") }
            let scopes = try Validate.scopes(raw)
            if let exp = body.expires_at, exp <= clock.now() {
                throw NudgeError.validation("expires_at", "expires_at must be in the future.")
            }
            let policy = try body.send_policy.map { $0 == .null ? [:] : try SendPolicy.validated($0, param: "send_policy") } ?? [:]
            let issued = try await store.issue(
                org: ctx.org, name: name, scopes: scopes, expiresAt: body.expires_at, createdBy: ctx.token.tokenID, policy: policy,
                now: clock.now())
            return try JSONCoding.response(issued, status: .created)
        }
        r.get("/v1/tokens", .admin) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/tokens/me") { _, ctx in
            let t = ctx.token
            return try JSONCoding.response(
                Me(
                    id: t.tokenID, org_id: t.orgID, name: t.name, scopes: t.scopes.sorted, expires_at: t.expiresAt, send_policy: t.policy,
                    policy_version: t.policyVersion))
        }
        r.get("/v1/tokens/:id", .admin) { _, ctx in
            let id = try ctx.id("id", .tok, what: "token")
            guard let t = try await store.get(org: ctx.org, id: id) else { throw NudgeError.notFound("token") }
            return try JSONCoding.response(t)
        }
        r.patch("/v1/tokens/:id", .admin) { req, ctx in
            let id = try ctx.id("id", .tok, what: "token")
            let json = try await JSONCoding.decode(JSONValue.self, from: req)
            try json.rejectNull("name", "scopes")
            let body = try JSONCoding.decode(PatchBody.self, from: try JSONCoding.encoder.encode(json))
            let name = try body.name.map { try Validate.name($0, "name") }
            let scopes = try body.scopes.map(Validate.scopes)
            var policy: [String: JSONValue]?
            if let raw = json["send_policy"] {
                // Limits hold whatever a token does: it cannot change its own, even as an admin.
                guard id != ctx.token.tokenID else {
                    throw NudgeError(.forbidden, "A token cannot change its own send policy; another admin token must.", field: "send_policy")
                }
                policy = raw == .null ? [:] : try SendPolicy.validated(raw, param: "send_policy")
            }
            var expiry: Date?? = nil
            // From the tree, not the decoded body: `Optional<JSONValue>` decodes an explicit null as absent.
            switch json["expires_at"] {
            case nil: break
            case .null?: expiry = .some(nil)
            case .string(let s)?:
                guard let d = RFC3339.parse(s) else { throw NudgeError.validation("expires_at", "expires_at must be an RFC 3339 timestamp or null.") }
                guard d > clock.now() else { throw NudgeError.validation("expires_at", "expires_at must be in the future.") }
                expiry = .some(d)
            default: throw NudgeError.validation("expires_at", "expires_at must be an RFC 3339 timestamp or null.")
            }
            guard
                let t = try await store.update(org: ctx.org, id: id, name: name, scopes: scopes, expiresAt: expiry, policy: policy, now: clock.now())
            else {
                throw NudgeError.notFound("token")
            }
            authenticator.invalidate(tokenID: id)
            return try JSONCoding.response(t)
        }
        registerOrganization(r)
        r.delete("/v1/tokens/:id", .admin) { _, ctx in
            let id = try ctx.id("id", .tok, what: "token")
            guard let t = try await store.revoke(org: ctx.org, id: id, now: clock.now()) else { throw NudgeError.notFound("token") }
            authenticator.invalidate(tokenID: id)
            return try JSONCoding.response(t)
        }
    }

    /// `GET/PATCH /v1/organization`: the organization's settings (its default send policy).
    package func registerOrganization(_ r: ScopedRouter) {
        r.get("/v1/organization", .admin) { _, ctx in
            guard let o = try await store.organization(ctx.org) else { throw NudgeError.notFound("organization") }
            return try JSONCoding.response(o)
        }
        r.patch("/v1/organization", .admin) { req, ctx in
            let json = try await JSONCoding.decode(JSONValue.self, from: req)
            guard case .object(let o) = json else { throw NudgeError.malformed("The body must be a JSON object.") }
            if let unknown = o.keys.first(where: { $0 != "send_policy" }) {
                throw NudgeError.validation(unknown, "Unknown field \(unknown.prefix(64)); the organization's settings have send_policy.")
            }
            guard let raw = o["send_policy"] else { throw NudgeError.validation("send_policy", "send_policy is required.") }
            let policy = raw == .null ? [:] : try SendPolicy.validated(raw, param: "send_policy")
            guard let updated = try await store.setOrganizationPolicy(ctx.org, policy: policy) else { throw NudgeError.notFound("organization") }
            authenticator.invalidate(org: ctx.org)
            return try JSONCoding.response(updated)
        }
    }

    package init(store: TokenStore, authenticator: TokenAuthenticator, clock: any NudgeClock) {
        self.store = store
        self.authenticator = authenticator
        self.clock = clock
    }
}
