import Foundation
import Hummingbird

struct WorkflowRulesAPI {
    let store: WorkflowRuleStore
    let clock: any NudgeClock

    struct Body: Decodable {
        struct Trigger: Decodable { let type: String?; let label: String? }
        struct Action: Decodable { let type: String?; let sequence_id: String?; let exit_on_reply: Bool? }
        let inbox_id: String?
        let trigger: Trigger?
        let action: Action?
    }

    func register(_ r: ScopedRouter) {
        r.post("/v1/workflow-rules", .sequencesWrite) { req, ctx in
            let b = try await JSONCoding.decode(Body.self, from: req)
            guard let inbox = b.inbox_id else { throw APIError.validation("inbox_id", "inbox_id is required.") }
            guard let t = b.trigger else { throw APIError.validation("trigger", "trigger is required.") }
            guard t.type == "label_added" else { throw APIError.validation("trigger.type", "trigger.type must be \"label_added\".") }
            guard let label = t.label else { throw APIError.validation("trigger.label", "trigger.label is required.") }
            try ContactsAPI.label(label, "trigger.label")
            guard let a = b.action else { throw APIError.validation("action", "action is required.") }
            guard a.type == "enroll" else { throw APIError.validation("action.type", "action.type must be \"enroll\".") }
            guard let seq = a.sequence_id else { throw APIError.validation("action.sequence_id", "action.sequence_id is required.") }
            guard ID.isValid(inbox, .inb) else { throw APIError.validation("inbox_id", "No inbox \(inbox.prefix(64)) in this organization.") }
            guard ID.isValid(seq, .seq) else { throw APIError.validation("action.sequence_id", "No sequence \(seq.prefix(64)) in this organization.") }
            let rule = try await store.create(org: ctx.org, inboxID: inbox, label: label, sequenceID: seq, exitOnReply: a.exit_on_reply, now: clock.now())
            return try JSONCoding.response(rule, status: .created)
        }
        r.get("/v1/workflow-rules", .sequencesRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/workflow-rules/:id", .sequencesRead) { _, ctx in
            guard let rule = try await store.get(org: ctx.org, id: try ctx.id("id", .wfr, what: "workflow rule")) else { throw APIError.notFound("workflow rule") }
            return try JSONCoding.response(rule)
        }
        r.delete("/v1/workflow-rules/:id", .sequencesWrite) { _, ctx in
            guard let rule = try await store.delete(org: ctx.org, id: try ctx.id("id", .wfr, what: "workflow rule")) else { throw APIError.notFound("workflow rule") }
            return try JSONCoding.response(rule)
        }
    }
}
