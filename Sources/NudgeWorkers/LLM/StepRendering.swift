import Foundation
import Logging
import Metrics
import Mustache
import NudgeCore
import NudgeStore

/// Writes a prompt step at send time and keeps the result. A step is never sent unwritten: while
/// the endpoint is down (refused, 5xx, 429, timeouts through every retry) the step stays due and is
/// tried again every few minutes, so sending resumes by itself when the model is back; a model
/// that answers with unusable output pauses the enrollment (`llm_unavailable`) for a person to
/// look at, and `resume` tries again. Output the guard refuses (`OutputGuard`) is asked for once
/// more; refused again, the enrollment pauses with `needs_review` and nothing is sent.
package struct StepRendering {
    package let services: NudgeServices
    package var db: Database { services.db }
    package var logger: Logger { services.logger }

    package static let schema: JSONValue = .object([
        "type": "object", "additionalProperties": false, "required": .array(["subject", "body"]),
        // maxLength bounds the output; grammar-constrained servers also use it to stop a rambling model.
        "properties": .object(["subject": .object(["type": "string", "maxLength": 150]), "body": .object(["type": "string", "maxLength": 1500])]),
    ])

    package func renderAll(_ due: [DueStep], now: Date) async throws {
        for d in due {
            do {
                let context = try await contextFor(d)
                let (subject, body, audits) = try await write(d, context: context)
                try await db.tenant(d.org) { [logger] conn in
                    try await DeliveryStore.keepRendered(d, subject: subject, body: body, conn, logger: logger)
                    try await EnrollmentStore.dueNow(d, now: now, conn, logger: logger)
                    for audit in audits { try await LLMCallStore.insert(audit, now: now, conn, logger: logger) }
                }
            } catch let refused as RefusedOutput {
                Counter(label: "nudge_llm_steps_refused_total").increment()
                logger.warning("written step refused", metadata: ["enrollment_id": "\(d.enrollmentID)", "reason": "\(refused.reason)"])
                try await pause(
                    d, reason: "needs_review: the written step was refused: \(refused.reason)", event: "needs_review", calls: refused.calls, now: now)
            } catch LLMError.unavailable(let why) {
                // The claim left it due again in a few minutes (the lease): it waits for the model.
                Counter(label: "nudge_llm_steps_waiting_total").increment()
                logger.warning("prompt step waits for the LLM endpoint", metadata: ["enrollment_id": "\(d.enrollmentID)", "error": "\(why)"])
            } catch {
                logger.warning("prompt step not written", metadata: ["enrollment_id": "\(d.enrollmentID)", "error": "\(error)"])
                try await pause(d, reason: "\(error)", event: "llm_unavailable", now: now)
            }
        }
    }

    package func pause(_ d: DueStep, reason: String, event: String, calls: [LLMCall] = [], now: Date) async throws {
        try await db.tenant(d.org) { [logger] conn in
            for call in calls { try await LLMCallStore.insert(call, now: now, conn, logger: logger) }
            let detail = String(reason.prefix(500))
            if try await EnrollmentStore.pauseForReview(org: d.org, id: d.enrollmentID, detail: detail, now: now, conn, logger: logger) {
                try await Events.append(
                    [
                        PendingEvent(
                            org: d.org, type: .enrollmentPaused,
                            [
                                "enrollment_id": .string(d.enrollmentID), "contact_id": .string(d.contactID), "reason": .string(event),
                                "detail": .string(detail),
                            ])
                    ],
                    at: now, on: conn, logger: logger)
            }
        }
    }

    package struct Context {
        package var sourceText: String?
        package var threadText: String?
        /// The organization's sender domains: links and addresses there are the organization's own.
        package var orgDomains: [String] = []
        /// The steps of the enrollment's sequence (version): what they name may be named.
        package var sequenceSteps: [Step] = []
    }

    /// Output refused twice (`OutputGuard`), with the audit records of both calls.
    package struct RefusedOutput: Error, CustomStringConvertible {
        package let reason: String
        package let calls: [LLMCall]
        package var description: String { "llm_output_refused: \(reason)" }
    }

    /// The source message's new text and the thread's latest messages (newest last), trimmed to a budget.
    package func contextFor(_ d: DueStep) async throws -> Context {
        let (source, recent) = try await HistoryStore(db: db).stepContext(org: d.org, sourceMessageID: d.source?.message_id, threadID: d.threadID)
        var c = Context(sourceText: source)
        c.orgDomains = try await SenderDomainStore(db: db).list(org: d.org)
        c.sequenceSteps = try await services.enrollments.get(org: d.org, id: d.enrollmentID)?.steps ?? []
        var budget = 6_000
        var parts: [String] = []
        for m in recent {
            let entry = "[\(m.direction == .inbound ? "from" : "sent by") \(m.from), subject: \(m.subject)]\n\(m.text.prefix(2_000))"
            guard budget - entry.count > 0 else { break }
            budget -= entry.count
            parts.insert(entry, at: 0)
        }
        if !parts.isEmpty { c.threadText = parts.joined(separator: "\n\n") }
        return c
    }

    package func write(_ d: DueStep, context: Context) async throws -> (String?, String, [LLMCall]) {
        guard let llm = services.llm, let prompts = services.prompts else { throw LLMError.unavailable("no LLM configured") }
        let fields = d.contactFields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        let vars: [String: Any] = [
            "instruction": d.step.prompt ?? "",
            "contact": ["full_name": d.contactName ?? "", "email": d.recipient],
            "inbox": ["display_name": d.inboxName ?? d.inboxAddress, "address": d.inboxAddress],
            "has_fields": !fields.isEmpty, "fields_text": Prompts.quote(fields, limit: 2_000),
            "has_source": d.source != nil,
            "source": [
                "subject": d.source?.subject ?? "", "from_address": d.source?.from_address ?? "",
                "text": Prompts.quote(context.sourceText ?? "", limit: 4_000),
            ],
            "has_thread": context.threadText != nil, "thread_text": Prompts.quote(context.threadText ?? "", limit: 6_000),
        ]
        let request = LLMRequest(
            system: prompts.writeSystem.render(vars), user: prompts.writeUser.render(vars), schemaName: "follow_up_email",
            schema: Self.schema, maxTokens: 700)
        let check = Self.guardContext(d, system: request.system, orgDomains: context.orgDomains, sequenceSteps: context.sequenceSteps)
        var calls: [LLMCall] = []
        while true {
            let response = try await llm.complete(request)
            do {
                let (subject, body) = try OutputGuard.check(
                    subject: response.object["subject"]?.string, body: response.object["body"]?.string, context: check)
                calls.append(LLMCall(org: d.org, purpose: .writeStep, enrollmentID: d.enrollmentID, request: request, response: response))
                return (d.step.subject ?? subject, body, calls)
            } catch LLMError.refused(let why) {
                calls.append(
                    LLMCall(org: d.org, purpose: .writeStep, enrollmentID: d.enrollmentID, request: request, response: response, outcome: "refused"))
                // Once more: a sampled model may write it properly the second time.
                if calls.count >= 2 { throw RefusedOutput(reason: why, calls: calls) }
            }
        }
    }

    /// What the written text is checked against: the instructions it must not repeat, the names
    /// that say whose voice it is in, and where it may point (the step's and the sequence's own
    /// text, the contact's record, the inbox's and the organization's domains). The thread and the
    /// source message are not in it: they hold mail written by outsiders.
    package static func guardContext(_ d: DueStep, system: String, orgDomains: [String], sequenceSteps: [Step]) -> OutputGuard.Context {
        var g = OutputGuard.Context()
        g.instructions = [d.step.prompt ?? ""]
        g.system = system
        g.senderName = d.inboxName
        g.recipientName = d.contactName
        g.subjectUsed = d.step.subject == nil
        g.subjectFallback = !(d.source?.subject ?? "").isEmpty
        let steps = [d.step] + (d.nextStep.map { [$0] } ?? []) + sequenceSteps
        var own: [String?] = [d.sequenceName, d.contactName] + d.contactFields.values.map(Optional.some)
        for step in steps { own += [step.prompt, step.subject, step.body, step.note] }
        for text in own { if let text { g.allowed.learn(from: text) } }
        g.allowed.allowAddress(d.recipient)
        g.allowed.allowAddress(d.inboxAddress)
        if let domain = d.inboxAddress.split(separator: "@").last, d.inboxAddress.contains("@") {
            g.allowed.allowDomain(String(domain), anyAddress: true)
        }
        for domain in orgDomains { g.allowed.allowDomain(domain, anyAddress: true) }
        return g
    }

    package init(services: NudgeServices) {
        self.services = services
    }
}
