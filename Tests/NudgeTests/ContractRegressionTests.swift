import Foundation
import HTTPTypes
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Testing

/// Server bugs found by contract fuzzing (ops/contract: schemathesis against docs/openapi.json),
/// each pinned here so that it cannot come back without the fuzzer.
@Suite struct ContractRegressionTests {
    /// A known path asked with a method it does not have answered the router's 404; RFC 9110 wants
    /// 405 with `Allow`, and the error envelope documents `invalid_request` for it. Unknown paths
    /// stay 404; the 405 needs no token (the route exists whoever asks).
    @Test func knownPathWithAnotherMethodIs405WithAllow() async throws {
        try await Harness.run { h in
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.trace, "/healthz", "GET"),
                (.put, "/metrics", "GET"),
                (.delete, "/v1/tokens/me/", "GET"),
                (.put, "/v1/tokens", "GET, POST"),
                (.post, "/v1/contacts/ctc_nothere/", "GET, PATCH, DELETE"),
                (.put, "/v1/sequences/enrollments/enr_x", "GET, PATCH"),
                (.get, "/v1/sequences/seq_x/preview", "POST"),
                (.delete, "/u/sometoken", "GET, POST"),
            ]
            for (method, path, allow) in cases {
                let r = try await h.call(method, path)
                #expect(r.status == 405, "\(method) \(path): \(r.status) \(r.body)")
                #expect(r.errorType == "invalid_request", "\(method) \(path): \(r.body)")
                #expect(r.header("Allow") == allow, "\(method) \(path): Allow \(r.header("Allow") ?? "none")")
            }
            let anonymous = try await h.callWithoutAuth(.put, "/v1/inboxes/")
            #expect(anonymous.status == 405, "\(anonymous.status) \(anonymous.body)")
            let unknown = try await h.call(.get, "/v1/nothing-here/")
            #expect(unknown.status == 404, "\(unknown.status) \(unknown.body)")
            // The methods a path has still work.
            #expect(try await h.call(.get, "/v1/tokens/me/").status == 200)
        }
    }

    /// PATCH ignored `null` for fields that cannot be cleared (`scopes: null` answered 200 and
    /// changed nothing); the document types them without null, so it is a 422 naming the field.
    @Test func patchRefusesNullForFieldsThatCannotBeCleared() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let tokenID = try await h.call(.post, "/v1/tokens/", #"{"name": "reader", "scopes": ["contacts:read"]}"#).id
            let contact = try await h.contact(Fixture.address(), inbox: inbox).id
            let created = try await h.call(.post, "/v1/sequences/", Fixture.sequence(inbox, emails: "[\(Fixture.step(days: 1, subject: "Hi"))]"))
            #expect(created.status == 201, "\(created.body)")
            let seq = created.id
            let cases: [(String, String, String)] = [
                ("/v1/tokens/\(tokenID)/", #"{"scopes": null}"#, "scopes"),
                ("/v1/tokens/\(tokenID)/", #"{"name": null}"#, "name"),
                ("/v1/contacts/\(contact)/", #"{"labels": null}"#, "labels"),
                ("/v1/contacts/\(contact)/", #"{"emails": null}"#, "emails"),
                ("/v1/contacts/\(contact)/", #"{"inbox_id": null}"#, "inbox_id"),
                ("/v1/sequences/\(seq)/", #"{"name": null}"#, "name"),
                ("/v1/sequences/\(seq)/", #"{"emails": null}"#, "emails"),
                ("/v1/sequences/\(seq)/", #"{"exit_on_reply": null}"#, "exit_on_reply"),
                ("/v1/sequences/\(seq)/", #"{"sender_inbox_id": null}"#, "sender_inbox_id"),
            ]
            for (path, body, param) in cases {
                let r = try await h.call(.patch, path, body)
                #expect(r.status == 422, "\(path) \(body): \(r.status) \(r.body)")
                #expect(r.errorParam == param, "\(path) \(body): \(r.body)")
            }
            // Nothing changed, and the nulls the document allows still clear.
            let token = try await h.call(.get, "/v1/tokens/\(tokenID)/")
            #expect(token.json["scopes"] == .array([.string("contacts:read")]), "\(token.body)")
            let cleared = try await h.call(.patch, "/v1/contacts/\(contact)/", #"{"notes": null, "timezone": null}"#)
            #expect(cleared.status == 200, "\(cleared.body)")
        }
    }

    /// `include_archived` is documented as `true` or `false`; any other value was read as false.
    @Test func includeArchivedMustBeABoolean() async throws {
        try await Harness.run { h in
            let bad = try await h.call(.get, "/v1/sequences/?include_archived=AAA")
            #expect(bad.status == 422, "\(bad.status) \(bad.body)")
            #expect(bad.errorParam == "include_archived", "\(bad.body)")
            #expect(try await h.call(.get, "/v1/sequences/?include_archived=true").status == 200)
            #expect(try await h.call(.get, "/v1/sequences/?include_archived=false").status == 200)
            #expect(try await h.call(.get, "/v1/sequences/").status == 200)
        }
    }

    /// A NUL byte in a query filter reached PostgreSQL (`invalid byte sequence for encoding
    /// "UTF8": 0x00`) and answered 500 (found by `ops/chaos contract`).
    @Test func nulInAQueryParameterIsA422NamingIt() async throws {
        try await Harness.run { h in
            let cases = [
                ("/v1/contacts/?email=a%00b@example.com", "email"), ("/v1/contacts/?label=x%00", "label"),
                ("/v1/sequences/enrollments/?contact_id=%00&state=completed", "contact_id"),
                ("/v1/sequences/enrollments/?inbox_id=inb_%00x", "inbox_id"), ("/v1/sequences/enrollments/?state=%00", "state"),
                ("/v1/suppressions/?email=6%C3%82%00", "email"), ("/v1/events/?after=evt_%00", "after"), ("/v1/events/?type=%00", "type"),
            ]
            for (path, param) in cases {
                let r = try await h.call(.get, path)
                #expect(r.status == 422 && r.errorParam == param, "\(path): \(r.status) \(r.body)")
            }
        }
    }

    /// A cursor is base64url of a time and an id; one whose id held a NUL ("1|\0": `MXwA`)
    /// reached PostgreSQL the same way (a 500). Other junk ids, and times out of PostgreSQL's
    /// range, are refused as well.
    /// With both paging parameters wrong, the error names `limit`, as it always has.
    @Test func aWrongLimitIsNamedBeforeAWrongCursor() async throws {
        try await Harness.run { h in
            for path in ["/v1/contacts/?limit=0&cursor=%25%25", "/v1/sequences/?limit=500&cursor=x", "/v1/suppressions/?limit=a&cursor=y"] {
                let r = try await h.call(.get, path)
                #expect(r.status == 422 && r.errorParam == "limit", "\(path): \(r.body)")
            }
            #expect(try await h.call(.get, "/v1/contacts/?limit=5&cursor=x").errorParam == "cursor")
        }
    }

    @Test func aCursorWhoseIdIsNotAnIdIsA422() async throws {
        try await Harness.run { h in
            let inbox = try await h.inbox()
            let thread =
                try await h.call(
                    .post, "/v1/inboxes/\(inbox)/messages/inbound/", headers: [.contentType: "message/rfc822"],
                    raw: Array("From: a@example.com\r\nSubject: Hi\r\nMessage-ID: <c-\(Fixture.suffix())@example.com>\r\n\r\nHello.\r\n".utf8))[
                    "thread_id"]?.string ?? ""
            let lists = [
                "/v1/contacts/", "/v1/sequences/", "/v1/sequences/enrollments/", "/v1/tokens/", "/v1/inboxes/", "/v1/suppressions/",
                "/v1/workflow-rules/", "/v1/inboxes/\(inbox)/threads/", "/v1/threads/\(thread)/messages/",
            ]
            let junk = ["1|\u{0}", "1|a\u{7F}", "1|" + String(repeating: "a", count: 65), "-9223372036854775808|ctc_a", "9223372036854775807|ctc_a"]
            for cursor in junk.map({ Data($0.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "") }) {
                for list in lists {
                    let r = try await h.call(.get, "\(list)?cursor=\(cursor)")
                    #expect(r.status == 422 && r.errorParam == "cursor", "\(list) \(cursor): \(r.status) \(r.body.prefix(200))")
                }
            }
            // The cursors the lists give still work.
            #expect(try await h.call(.get, "/v1/threads/\(thread)/messages/?limit=1")["data"]?.items.count == 1)
        }
    }
}
