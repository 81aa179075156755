import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers

package struct SequencesAPI {
    package let store: SequenceStore
    package let clock: any NudgeClock
    package let llmConfigured: Bool

    package struct Body: Decodable {
        package let name: String?
        package let sender_inbox_id: String?
        package let exit_on_reply: Bool?
        package let emails: [StepInput]?
        package let exit_condition_prompt: String?
        package let on_out_of_office: String?
        package let ooo_default_days: Int?
        package let stop_on_company_reply: Bool?
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/sequences", .sequencesWrite) { req, ctx in
            let b = try await JSONCoding.decode(Body.self, from: req)
            let name = try Validate.name(b.name, "name")
            guard let inbox = b.sender_inbox_id else { throw NudgeError.validation("sender_inbox_id", "sender_inbox_id is required.") }
            guard ID.isValid(inbox, .inb) else {
                throw NudgeError.validation("sender_inbox_id", "No inbox \(inbox.prefix(64)) in this organization.")
            }
            let steps = try StepValidation.validate(b.emails, param: "emails", llmConfigured: llmConfigured)
            let exit = try StepValidation.exitCondition(b.exit_condition_prompt, llmConfigured: llmConfigured)
            let (ooo, oooDays) = try OutOfOfficeAction.validated(b.on_out_of_office, days: b.ooo_default_days)
            let def = SequenceDefinition(
                steps: steps, exit_on_reply: b.exit_on_reply ?? true, exit_condition_prompt: exit, on_out_of_office: ooo ?? .hold,
                ooo_default_days: oooDays ?? OutOfOfficeAction.defaultDays, stop_on_company_reply: b.stop_on_company_reply ?? false)
            let seq = try await store.create(org: ctx.org, name: name, inboxID: inbox, definition: def, now: clock.now())
            return try JSONCoding.response(seq, status: .created)
        }
        r.get("/v1/sequences", .sequencesRead) { req, ctx in
            let archived = try req.query("include_archived")
            guard archived == nil || archived == "true" || archived == "false" else {
                throw NudgeError.validation("include_archived", "include_archived must be true or false.")
            }
            return try await store.list(org: ctx.org, includeArchived: archived == "true", page: PageRequest(req)).response()
        }
        r.get("/v1/sequences/:id", .sequencesRead) { _, ctx in
            guard let s = try await store.get(org: ctx.org, id: try ctx.id("id", .seq, what: "sequence")) else {
                throw NudgeError.notFound("sequence")
            }
            return try JSONCoding.response(s)
        }
        r.patch("/v1/sequences/:id", .sequencesWrite) { req, ctx in
            let id = try ctx.id("id", .seq, what: "sequence")
            let json = try await JSONCoding.decode(JSONValue.self, from: req)
            let patch = try PatchBody(json)
            try json.rejectNull("name", "sender_inbox_id", "exit_on_reply", "emails", "on_out_of_office", "ooo_default_days", "stop_on_company_reply")
            let b = try JSONCoding.decode(Body.self, from: try JSONCoding.encoder.encode(json))
            let (ooo, oooDays) = try OutOfOfficeAction.validated(b.on_out_of_office, days: b.ooo_default_days)
            let name = try b.name.map { try Validate.name($0, "name") }
            if let inbox = b.sender_inbox_id, !ID.isValid(inbox, .inb) {
                throw NudgeError.validation("sender_inbox_id", "No inbox \(inbox.prefix(64)) in this organization.")
            }
            let steps = try b.emails.map { try StepValidation.validate($0, param: "emails", llmConfigured: llmConfigured) }
            let exitPrompt = try patch.string("exit_condition_prompt")
            let newExit = try exitPrompt.update.map { try StepValidation.exitCondition($0, llmConfigured: llmConfigured) }
            guard
                let s = try await store.update(
                    org: ctx.org, id: id, name: name, inboxID: b.sender_inbox_id,
                    definition: { current in
                        SequenceDefinition(
                            steps: steps ?? current.emails, exit_on_reply: b.exit_on_reply ?? current.exit_on_reply,
                            exit_condition_prompt: newExit ?? current.exit_condition_prompt,
                            on_out_of_office: ooo ?? current.on_out_of_office, ooo_default_days: oooDays ?? current.ooo_default_days,
                            stop_on_company_reply: b.stop_on_company_reply ?? current.stop_on_company_reply)
                    }, now: clock.now())
            else { throw NudgeError.notFound("sequence") }
            return try JSONCoding.response(s)
        }
        r.delete("/v1/sequences/:id", .sequencesWrite) { _, ctx in
            guard let s = try await store.archive(org: ctx.org, id: try ctx.id("id", .seq, what: "sequence"), now: clock.now()) else {
                throw NudgeError.notFound("sequence")
            }
            return try JSONCoding.response(s)
        }
    }

    package init(store: SequenceStore, clock: any NudgeClock, llmConfigured: Bool) {
        self.store = store
        self.clock = clock
        self.llmConfigured = llmConfigured
    }
}
