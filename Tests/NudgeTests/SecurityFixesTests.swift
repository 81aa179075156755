import Foundation
import HTTPTypes
import Nudge
import Testing

/// Regression tests for findings of a black-box probe made with a low-scope token, or as someone
/// who can only send mail to an inbox. Each reproduces the finding as it was reported.
@Suite struct SecurityFixesTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    /// An admin's kept answer (a new admin token's secret) was replayed to any token of the
    /// organization that sent the same key and body: the replay ran before the route's scope check.
    @Test func replayedKeyNeverSkipsTheScopeCheck() async throws {
        try await Harness.run { h in
            let body = #"{"name": "ci-admin", "scopes": ["admin"]}"#
            let created = try await h.call(.post, "/v1/tokens/", body, headers: [Self.key: "create-admin-1"])
            #expect(created.status == 201, "\(created.body)")
            let secret = try #require(created["token"]?.string)
            for scopes in [["inbound:write"], ["contacts:read"], ["contacts:read", "contacts:write", "sequences:read", "sequences:write"]] {
                let low = try await h.token(scopes)
                for b in [body, #"{"name": "other", "scopes": ["admin"]}"#] {
                    let r = try await h.call(.post, "/v1/tokens/", token: low, b, headers: [Self.key: "create-admin-1"])
                    #expect(r.status == 403 && r.errorType == "permission_error", "\(scopes): \(r.status) \(r.body)")
                    #expect(r.header("Idempotent-Replayed") == nil && !r.body.contains(secret), "\(scopes) got the replay: \(r.body)")
                }
            }
            // The creator still gets its own answer back.
            let again = try await h.call(.post, "/v1/tokens/", body, headers: [Self.key: "create-admin-1"])
            #expect(again.status == 201 && again.header("Idempotent-Replayed") == "true" && again["token"]?.string == secret)

            // Contact data: kept for a contacts:write token, not replayed to a token that cannot read contacts.
            let writer = try await h.token(["contacts:write", "contacts:read"])
            let contact = #"{"full_name": "Avery Chen", "emails": [{"address": "avery-\#(Fixture.suffix())@example.com"}]}"#
            let c = try await h.call(.post, "/v1/contacts/", token: writer, contact, headers: [Self.key: "contact-1"])
            #expect(c.status == 201, "\(c.body)")
            let reader = try await h.token(["inbound:write"])
            let r = try await h.call(.post, "/v1/contacts/", token: reader, contact, headers: [Self.key: "contact-1"])
            #expect(r.status == 403 && !r.body.contains("Avery"), "\(r.body)")
            // Another token with the scope runs its own request (an upsert of the same contact: 200, not a replay).
            let other = try await h.token(["contacts:write"])
            let o = try await h.call(.post, "/v1/contacts/", token: other, contact, headers: [Self.key: "contact-1"])
            #expect(o.status == 200 && o.header("Idempotent-Replayed") == nil, "\(o.status) \(o.body)")
        }
    }
}
