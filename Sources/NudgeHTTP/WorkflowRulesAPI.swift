import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct WorkflowRulesAPI {
    package let store: WorkflowRuleStore
    package let clock: any NudgeClock

    package struct Body: Decodable {
        package struct Trigger: Decodable {
            let type: String?
            let label: String?
            let intent: String?
        }
        package struct Action: Decodable {
            let type: String?
            let sequence_id: String?
            let exit_on_reply: Bool?
            let target: String?
        }
        package let inbox_id: String?
        package let trigger: Trigger?
        package let action: Action?
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/workflow-rules", .sequencesWrite) { req, ctx in
            let b = try await JSONCoding.decode(Body.self, from: req)
            guard let inbox = b.inbox_id else { throw NudgeError.validation("inbox_id", "inbox_id is required.") }
            guard let t = b.trigger else { throw NudgeError.validation("trigger", "trigger is required.") }
            let trigger = try Self.trigger(t)
            guard let a = b.action else { throw NudgeError.validation("action", "action is required.") }
            guard a.type == "enroll" else { throw NudgeError.validation("action.type", "action.type must be \"enroll\".") }
            let target = a.target ?? "contact"
            guard target == "contact" || (target == "referred" && trigger.intent == "referral") else {
                throw NudgeError.validation(
                    "action.target", "action.target must be \"contact\", or \"referred\" with a reply_intent trigger on \"referral\".")
            }
            guard let seq = a.sequence_id else { throw NudgeError.validation("action.sequence_id", "action.sequence_id is required.") }
            guard ID.isValid(inbox, .inb) else { throw NudgeError.validation("inbox_id", "No inbox \(inbox.prefix(64)) in this organization.") }
            guard ID.isValid(seq, .seq) else {
                throw NudgeError.validation("action.sequence_id", "No sequence \(seq.prefix(64)) in this organization.")
            }
            let rule = try await store.create(
                org: ctx.org, inboxID: inbox, trigger: trigger, sequenceID: seq, exitOnReply: a.exit_on_reply, target: target, now: clock.now())
            return try JSONCoding.response(rule, status: .created)
        }
        r.get("/v1/workflow-rules", .sequencesRead) { req, ctx in
            try JSONCoding.response(try await store.list(org: ctx.org, page: PageRequest(req)))
        }
        r.get("/v1/workflow-rules/:id", .sequencesRead) { _, ctx in
            guard let rule = try await store.get(org: ctx.org, id: try ctx.id("id", .wfr, what: "workflow rule")) else {
                throw NudgeError.notFound("workflow rule")
            }
            return try JSONCoding.response(rule)
        }
        r.delete("/v1/workflow-rules/:id", .sequencesWrite) { _, ctx in
            guard let rule = try await store.delete(org: ctx.org, id: try ctx.id("id", .wfr, what: "workflow rule")) else {
                throw NudgeError.notFound("workflow rule")
            }
            return try JSONCoding.response(rule)
        }
    }

    /// `label_added` with a valid `label`, or `reply_intent` with one of the intents.
    static func trigger(_ t: Body.Trigger) throws -> WorkflowRuleRecord.Trigger {
        switch t.type {
        case "label_added":
            guard let label = t.label else { throw NudgeError.validation("trigger.label", "trigger.label is required.") }
            try ContactsAPI.label(label, "trigger.label")
            return .init(type: "label_added", label: label)
        case "reply_intent":
            guard let intent = t.intent, ReplyFacts.intents.contains(intent) else {
                throw NudgeError.validation("trigger.intent", "trigger.intent must be one of \(ReplyFacts.intents.joined(separator: ", ")).")
            }
            return .init(type: "reply_intent", intent: intent)
        default:
            throw NudgeError.validation("trigger.type", "trigger.type must be \"label_added\" or \"reply_intent\".")
        }
    }

    package init(store: WorkflowRuleStore, clock: any NudgeClock) {
        self.store = store
        self.clock = clock
    }
}
