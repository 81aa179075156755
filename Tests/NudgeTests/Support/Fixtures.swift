import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Nudge
import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import Testing

/// Small helpers shared by FoundationTests, ContactsTests and EnrollmentRulesTests.
enum Fixture {
    /// A short random suffix, so that tests running in parallel never share an address.
    static func suffix() -> String { String(UUID().uuidString.prefix(8)).lowercased() }

    /// A unique, valid contact address.
    static func address(_ prefix: String = "c") -> String { "\(prefix)-\(suffix())@example.com" }

    /// A well-formed id of `prefix` that names nothing.
    static func unknownID(_ prefix: IDPrefix) -> String { ID.make(prefix) }

    /// `{"name", "sender_inbox_id", "emails": <emails>}` for POST /v1/sequences/.
    static func sequence(_ inbox: String, name: String = "Test sequence", emails: String) -> String {
        #"{"name": "\#(name)", "sender_inbox_id": "\#(inbox)", "exit_on_reply": true, "emails": \#(emails)}"#
    }

    /// One email step as JSON.
    static func step(days: Double, subject: String, body: String = "Just checking in.") -> String {
        #"{"delay_days": \#(days), "subject": "\#(subject)", "body": "\#(body)"}"#
    }
}

extension JSONValue {
    /// The elements of an array (empty for anything else).
    var items: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }
}

extension Reply {
    /// `data` of a list answer.
    var data: [JSONValue] { json["data"]?.items ?? [] }
    var errorMessage: String { json["error"]?["message"]?.string ?? "" }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

extension Harness {
    /// A request without any `Authorization` header (the plain `call` always adds one).
    func callWithoutAuth(_ method: HTTPRequest.Method, _ path: String) async throws -> Reply {
        try await client.execute(uri: path, method: method, headers: [:], body: nil) { r in
            let text = String(buffer: r.body)
            return Reply(status: Int(r.status.code), json: JSONValue.parse(text) ?? .null, headers: r.headers, body: text)
        }
    }

    /// Runs `n` requests at once; answers in index order.
    func parallel(_ n: Int, _ request: @escaping @Sendable (Int) async throws -> Reply) async throws -> [Reply] {
        try await withThrowingTaskGroup(of: (Int, Reply).self) { group in
            for i in 0..<n { group.addTask { (i, try await request(i)) } }
            var out = [Reply?](repeating: nil, count: n)
            for try await (i, r) in group { out[i] = r }
            return out.compactMap { $0 }
        }
    }

    /// POST /v1/contacts/ with one address; `extra` is appended to the body (`, "labels": [...]`).
    @discardableResult
    func contact(_ address: String, inbox: String? = nil, name: String = "Avery Chen", extra: String = "", token: String? = nil) async throws -> Reply
    {
        let inboxField = inbox.map { #""inbox_id": "\#($0)", "# } ?? ""
        return try await call(
            .post, "/v1/contacts/", token: token,
            #"{\#(inboxField)"full_name": "\#(name)", "emails": [{"label": "work", "address": "\#(address)"}]\#(extra)}"#)
    }

    /// The id of the token whose secret is `token` (GET /v1/tokens/me/).
    func tokenID(_ token: String) async throws -> String {
        let me = try await call(.get, "/v1/tokens/me/", token: token)
        try #require(me.status == 200, "tokens/me: \(me.body)")
        return me.id
    }

    /// An ad-hoc enrollment of `email` from `inbox` with the given steps (a JSON array).
    func enrollAdHoc(inbox: String, email: String, steps: String, token: String? = nil) async throws -> Reply {
        try await call(
            .post, "/v1/sequences/enrollments/", token: token,
            #"{"inbox_id": "\#(inbox)", "recipient": {"email": "\#(email)"}, "emails": \#(steps)}"#)
    }

    /// Enrollments of one contact (GET /v1/sequences/enrollments/?contact_id=).
    func enrollments(ofContact contact: String) async throws -> [JSONValue] {
        let r = try await call(.get, "/v1/sequences/enrollments/?contact_id=\(contact)&limit=200")
        try #require(r.status == 200, "enrollments: \(r.body)")
        return r.data
    }

    /// Events of one type, oldest first.
    func events(_ type: String) async throws -> [JSONValue] {
        let r = try await call(.get, "/v1/events/?type=\(type)&limit=200")
        try #require(r.status == 200, "events: \(r.body)")
        return r.data
    }
}
