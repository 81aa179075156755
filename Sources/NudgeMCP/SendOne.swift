import Foundation
import NudgeCore

/// `send_one`: one email, now or at `send_at`, new or in a thread, that is not sent if the person
/// replies first. It is an ad-hoc enrollment of one step with `exit_on_reply`, so it gets every
/// guarantee of one (send window, daily limit, suppressions, the reply check before sending, one
/// Message-ID across retries) and is answered as the enrollment (cancel it to call it off).
enum SendOne {
    /// Its arguments, each schema taken from the components of the enrollment it becomes.
    static func inputSchema(_ schemas: OpenAPISchemas, defs: inout [String: JSONValue]) throws -> ([String: JSONValue], [String]) {
        let enrollment = try schemas.component("EnrollmentCreate")["properties"]
        let step = try schemas.component("StepInput")["properties"]
        let source = try schemas.component("EnrollmentSourceInput")["properties"]
        func pick(_ v: JSONValue?, _ what: String) throws -> JSONValue {
            guard let v else { throw OpenAPISchemas.SchemaError("send_one: \(what) is gone from the OpenAPI document") }
            return try schemas.localize(v, into: &defs)
        }
        let properties: [String: JSONValue] = [
            "inbox_id": try pick(enrollment?["inbox_id"], "EnrollmentCreate.inbox_id"),
            "recipient": try pick(enrollment?["recipient"], "EnrollmentCreate.recipient"),
            "subject": try pick(step?["subject"], "StepInput.subject"),
            "body": try pick(step?["body"], "StepInput.body"),
            "thread_id": try pick(source?["thread_id"], "EnrollmentSourceInput.thread_id"),
            "message_id": try pick(source?["message_id"], "EnrollmentSourceInput.message_id"),
            "send_at": .object([
                "type": .string("string"), "format": .string("date-time"),
                "description": .string(
                    "When to send (RFC 3339); omitted or past: now. The inbox's send window and daily limit still apply."),
            ]),
        ]
        return (properties, ["inbox_id", "recipient", "subject", "body"])
    }

    /// The enrollment request for these arguments at `now`.
    static func body(_ args: [String: JSONValue], now: Date) throws -> [String: JSONValue] {
        var step: [String: JSONValue] = ["type": .string("email")]
        for k in ["subject", "body"] { step[k] = args[k] }
        if let raw = args["send_at"] {
            guard let text = raw.string, let at = RFC3339.parse(text) else {
                throw NudgeError.validation("send_at", "send_at must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z.")
            }
            let minutes = at.timeIntervalSince(now) / 60
            if minutes > 0 { step["delay_minutes"] = .number((minutes * 1000).rounded(.up) / 1000) }
        }
        var body: [String: JSONValue] = ["emails": .array([.object(step)]), "exit_on_reply": .bool(true)]
        for k in ["inbox_id", "recipient"] { body[k] = args[k] }
        var source: [String: JSONValue] = [:]
        for k in ["thread_id", "message_id"] { source[k] = args[k] }
        if !source.isEmpty {
            source["type"] = .string("email")
            body["source"] = .object(source)
        }
        return body
    }

    /// The `send_one` argument behind a field of the enrollment request the API named.
    static func argument(for param: String) -> String {
        switch param {
        case "emails[0].delay_minutes", "emails", "emails[0]": return "send_at"
        case "emails[0].subject": return "subject"
        case "emails[0].body": return "body"
        case "source.thread_id": return "thread_id"
        case "source.message_id", "source": return "message_id"
        default: return param
        }
    }
}
